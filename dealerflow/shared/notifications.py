"""Notifications: the in-app inbox (a row per recipient) doubles as the outbox of external channels.

Every notification is written in the transaction of the change it reports, so none is lost or sent
for a change that rolled back. A channel (the webhook for WeCom/DingTalk/SMS gateways) is then fed
from the unsent rows by an activity, in batches, and marks them sent."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Sequence

import httpx
from sqlalchemy import ColumnElement, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.models import Notification


def notify(session: Session, *, role: str | None = None, user_id: int | None = None, dealer_id: int | None = None,
           kind: str, title: str, body: str = "", link: str | None = None, dedup_key: str | None = None) -> None:
    """One notification for a role, a user or a dealer; a repeated dedup_key adds nothing."""
    session.execute(insert(Notification).values(
        recipient_role=role, recipient_user_id=user_id, recipient_dealer_id=dealer_id, kind=kind, title=title,
        body=body, link=link, dedup_key=dedup_key).on_conflict_do_nothing(index_elements=["dedup_key"]))


_NOTIFY_DEALERS = text("""
    insert into notifications (recipient_dealer_id, kind, title, body, link, dedup_key, created_at)
    select d, :kind, :title, :body, :link, :dedup || ':' || d, now() from unnest(:dealers) as d
    on conflict (dedup_key) do nothing""").bindparams(bindparam("dealers"))


def notify_dealers(session: Session, dealer_ids: Sequence[int], *, kind: str, title: str, body: str = "",
                   link: str | None = None, dedup: str) -> None:
    """The same notification to many dealers in one statement; `dedup` + dealer id is the key."""
    if dealer_ids:
        session.execute(_NOTIFY_DEALERS, {"dealers": list(dealer_ids), "kind": kind, "title": title,
                                          "body": body, "link": link, "dedup": dedup})


# --- external channels -------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    role: str | None
    user_id: int | None
    dealer_id: int | None


class Channel(Protocol):
    name: str

    def send(self, messages: list[Message]) -> None:
        """Deliver the batch or raise; a raised batch stays unsent and is retried."""


class WebhookChannel:
    """POSTs each batch as JSON to a gateway (WeCom, DingTalk, SMS) that fans it out."""
    name = "webhook"

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0):
        self.url, self.timeout = url, timeout
        self.headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})

    def send(self, messages: list[Message]) -> None:
        body = json.dumps({"notifications": [m.__dict__ for m in messages]}, ensure_ascii=False)
        response = httpx.post(self.url, content=body.encode(), headers=self.headers, timeout=self.timeout)
        response.raise_for_status()


def send_pending(session: Session, channels: list[Channel], *, batch: int = 500) -> int:
    """Send one batch of unsent notifications through every channel and mark it sent. With no
    external channel configured the in-app inbox is the only channel: rows are marked sent as is."""
    rows = session.execute(select(Notification).where(Notification.sent_at.is_(None))
                           .order_by(Notification.id).limit(batch).with_for_update(skip_locked=True)).scalars().all()
    if not rows:
        return 0
    messages = [Message(n.id, n.kind, n.title, n.body, n.link, n.recipient_role, n.recipient_user_id,
                        n.recipient_dealer_id) for n in rows]
    for channel in channels:
        channel.send(messages)
    session.execute(update(Notification).where(Notification.id.in_([m.id for m in messages]))
                    .values(sent_at=text("now()")))
    return len(messages)


@dataclass(frozen=True)
class OutboxCount:
    kind: str
    unsent: int
    sent: int
    oldest_unsent: object  # datetime | None
    last_sent: object  # datetime | None


def outbox(session: Session) -> list[OutboxCount]:
    """The outbox by kind of notification: how many wait to be sent to the external channels, how many
    went, the oldest waiting and the last sent."""
    unsent = Notification.sent_at.is_(None)
    rows = session.execute(
        select(Notification.kind, func.count().filter(unsent), func.count().filter(~unsent),
               func.min(Notification.created_at).filter(unsent), func.max(Notification.sent_at))
        .group_by(Notification.kind).order_by(Notification.kind)).all()
    return [OutboxCount(*row) for row in rows]


# --- a user's in-app notifications -------------------------------------------------------------

def addressed_to(user) -> ColumnElement:
    """The notifications a user reads: its own, its role's (staff) or its dealer's (a dealer)."""
    mine = [Notification.recipient_user_id == user.id]
    if user.role == "dealer":
        mine.append(Notification.recipient_dealer_id == user.dealer_id)
    else:
        mine.append(Notification.recipient_role == user.role)
    return or_(*mine)


def unread_count(session: Session, user) -> int:
    return session.scalar(select(func.count()).select_from(Notification)
                          .where(addressed_to(user), Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user, *, now: datetime, notification_id: int | None = None) -> int:
    """Marks one notification of the user's (or, without an id, all of them) read; how many were."""
    q = update(Notification).where(addressed_to(user), Notification.read_at.is_(None)).values(read_at=now)
    if notification_id is not None:
        q = q.where(Notification.id == notification_id)
    return session.execute(q.execution_options(synchronize_session=False)).rowcount or 0
