"""Notifications: the in-app inbox (a row per recipient) doubles as the outbox of external channels.

Every notification is written in the transaction of the change it reports, so none is lost or sent
for a change that rolled back. An activity (run after the processes that notify and every minute by
the dispatch schedule) plans each new notification's deliveries, one per group channel and one per
person it reaches on a personal channel (their addresses, preferences and quiet hours:
recipients.py), then tries the due deliveries. Every attempt is recorded; a failure waits its
backoff, a data error or the last attempt puts the delivery in the dead letters, which an admin
resends."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, Sequence

import httpx
from sqlalchemy import ColumnElement, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid
from dealerflow.models import DeliveryAttempt, Notification, NotificationDelivery


def notify(session: Session, *, role: str | None = None, user_id: int | None = None, dealer_id: int | None = None,
           kind: str, title: str, body: str = "", link: str | None = None, dedup_key: str | None = None) -> None:
    """One notification for a role, a user or a dealer; a repeated dedup_key adds nothing."""
    notify_each(session, [dict(role=role, user_id=user_id, dealer_id=dealer_id, kind=kind, title=title, body=body,
                               link=link, dedup_key=dedup_key)])


def notify_each(session: Session, notes: Sequence[dict]) -> None:
    """Notifications that differ by recipient (each a dict of `notify`'s arguments), in one statement."""
    if notes:
        session.execute(_NOTIFY_EACH, {column: [n.get(key, default) for n in notes]
                                       for column, key, default in _EACH_COLUMNS})


# One statement whatever the number of notes: each column travels as an array.
_EACH_COLUMNS = (("roles", "role", None), ("users", "user_id", None), ("dealers", "dealer_id", None),
                 ("kinds", "kind", None), ("titles", "title", None), ("bodies", "body", ""), ("links", "link", None),
                 ("keys", "dedup_key", None))
_NOTIFY_EACH = text("""
    insert into notifications (recipient_role, recipient_user_id, recipient_dealer_id, kind, title, body, link,
                               dedup_key, created_at)
    select n.*, now() from unnest(cast(:roles as text[]), cast(:users as int[]), cast(:dealers as int[]),
                                  cast(:kinds as text[]), cast(:titles as text[]), cast(:bodies as text[]),
                                  cast(:links as text[]), cast(:keys as text[])) as n
    on conflict (dedup_key) do nothing""")


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


@dataclass(frozen=True)
class Item:
    """One delivery handed to a channel: the message and the address it goes to ('' for a group)."""
    delivery_id: int
    message: Message
    address: str


class DeliveryError(Exception):
    """A channel could not deliver. `permanent`: a data error (a 4xx, a bad address, a refused
    payload) that no retry mends, so the delivery goes to the dead letters at once."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    name: str

    def send(self, messages: list[Message]) -> None:
        """Deliver the batch or raise; a raised batch stays unsent and is retried."""


def is_personal(channel: Channel) -> bool:
    """A personal channel reaches one person at their own address; the others post to a group."""
    return bool(getattr(channel, "personal", False))


def accepts(channel: Channel, message: Message) -> bool:
    check = getattr(channel, "accepts", None)
    return True if check is None else bool(check(message))


def deliver(channel: Channel, items: list[Item]) -> dict[int, Exception | None]:
    """{delivery id: None when sent, else the error}: a channel's own `deliver`, or its `send` of the
    whole batch (one outcome for all)."""
    own = getattr(channel, "deliver", None)
    if own is not None:
        try:
            return own(items)
        except Exception as e:  # noqa: BLE001 - any failure of the channel is recorded, not raised
            return {i.delivery_id: e for i in items}
    try:
        channel.send([i.message for i in items])
        return {i.delivery_id: None for i in items}
    except Exception as e:  # noqa: BLE001
        return {i.delivery_id: e for i in items}


def is_permanent(error: Exception) -> bool:
    """A data error is not retried: the channel said so, or the provider answered 4xx (other than
    408 timeout and 429 too many requests, which pass)."""
    if isinstance(error, DeliveryError):
        return error.permanent
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        return 400 <= status < 500 and status not in (408, 429)
    return False


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


MAX_ATTEMPTS = 6
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3))


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 5, 15, 60 minutes, then 3 hours."""
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def send_pending(session: Session, channels: list[Channel], *, batch: int = 500, now: datetime | None = None) -> int:
    """One step of the outbox: plan the deliveries of a batch of new notifications, then try a batch
    of the deliveries that are due. Returns how many rows it handled (0: nothing more to do now).
    With no external channel configured the in-app inbox is the only channel: rows are marked sent."""
    now = now or session.scalar(select(func.now()))
    planned = plan_deliveries(session, channels, batch=batch, now=now)
    tried = deliver_due(session, channels, batch=batch, now=now)
    return planned + tried


def plan_deliveries(session: Session, channels: list[Channel], *, batch: int, now: datetime) -> int:
    """New notifications → one delivery per group channel that takes them and one per person (and
    personal channel) they reach by the person's addresses and preferences, delayed to the end of
    the person's quiet hours unless urgent. The notification is then marked handed over (sent_at)."""
    from dealerflow.shared import recipients  # recipients reads users; notify() stays light to import

    rows = session.execute(select(Notification).where(Notification.sent_at.is_(None))
                           .order_by(Notification.id).limit(batch).with_for_update(skip_locked=True)).scalars().all()
    if not rows:
        return 0
    messages = [Message(n.id, n.kind, n.title, n.body, n.link, n.recipient_role, n.recipient_user_id,
                        n.recipient_dealer_id) for n in rows]
    values: list[dict] = []
    for channel in channels:
        if not is_personal(channel):
            values += [{"notification_id": m.id, "channel": channel.name, "address": "", "user_id": None,
                        "next_at": now} for m in messages if accepts(channel, m)]
    personal = [c.name for c in channels if is_personal(c)]
    if personal:
        values += recipients.personal_deliveries(session, messages, personal, now=now)
    for i in range(0, len(values), 2000):
        session.execute(insert(NotificationDelivery).values(values[i:i + 2000])
                        .on_conflict_do_nothing(constraint="notification_delivery_once"))
    session.execute(update(Notification).where(Notification.id.in_([m.id for m in messages]))
                    .values(sent_at=now))
    return len(messages)


def deliver_due(session: Session, channels: list[Channel], *, batch: int, now: datetime) -> int:
    """Try the due pending deliveries of the configured channels once each; record every attempt;
    a failure waits its backoff, or is dead after MAX_ATTEMPTS or at once when it is a data error."""
    by_name = {c.name: c for c in channels}
    if not by_name:
        return 0
    rows = session.execute(
        select(NotificationDelivery, Notification).join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(NotificationDelivery.status == "pending", NotificationDelivery.next_at <= now,
               NotificationDelivery.channel.in_(list(by_name)))
        .order_by(NotificationDelivery.next_at, NotificationDelivery.id).limit(batch)
        .with_for_update(of=NotificationDelivery, skip_locked=True)).all()
    if not rows:
        return 0
    deliveries = {d.id: d for d, _ in rows}
    outcomes: dict[int, Exception | None] = {}
    for name, channel in by_name.items():
        items = [Item(d.id, Message(n.id, n.kind, n.title, n.body, n.link, n.recipient_role, n.recipient_user_id,
                                    n.recipient_dealer_id), d.address) for d, n in rows if d.channel == name]
        if items:
            outcomes |= deliver(channel, items)
    attempts = []
    for delivery_id, d in deliveries.items():
        error = outcomes.get(delivery_id, DeliveryError("the channel gave no answer for it"))
        d.attempts += 1
        if error is None:
            d.status, d.sent_at, d.last_error, outcome = "sent", now, None, "sent"
        else:
            d.last_error = (str(error) or type(error).__name__)[:2000]
            if is_permanent(error) or d.attempts >= MAX_ATTEMPTS:
                d.status, d.dead_at, outcome = "dead", now, "dead"
            else:
                d.next_at, outcome = now + backoff(d.attempts), "retry"
        attempts.append({"delivery_id": delivery_id, "at": now, "outcome": outcome,
                         "error": None if error is None else d.last_error})
    session.execute(insert(DeliveryAttempt).values(attempts))
    return len(deliveries)


# --- dead letters -------------------------------------------------------------------------------

def dead_letters(session: Session, *, limit: int = 50, offset: int = 0, channel: str | None = None) -> tuple[int, list[dict]]:
    """Deliveries that gave up, the latest first, with their notification and last error."""
    where = [NotificationDelivery.status == "dead"]
    if channel:
        where.append(NotificationDelivery.channel == channel)
    total = session.scalar(select(func.count()).select_from(NotificationDelivery).where(*where)) or 0
    rows = session.execute(
        select(NotificationDelivery, Notification).join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(*where).order_by(NotificationDelivery.dead_at.desc(), NotificationDelivery.id.desc())
        .limit(limit).offset(offset)).all()
    return total, [delivery_read(d, n) for d, n in rows]


def delivery_read(d: NotificationDelivery, n: Notification) -> dict:
    return {"id": d.id, "notification_id": n.id, "kind": n.kind, "title": n.title, "channel": d.channel,
            "address": d.address, "user_id": d.user_id, "status": d.status, "attempts": d.attempts,
            "last_error": d.last_error, "created_at": d.created_at, "next_at": d.next_at, "sent_at": d.sent_at,
            "dead_at": d.dead_at}


def attempts_of(session: Session, delivery_ids: Sequence[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in delivery_ids}
    for a in session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
                             .order_by(DeliveryAttempt.id)):
        out[a.delivery_id].append({"at": a.at, "outcome": a.outcome, "error": a.error})
    return out


def resend(session: Session, delivery_ids: Sequence[int], *, now: datetime) -> int:
    """Dead deliveries back to pending, due now, with a fresh count of attempts (their past attempts
    stay recorded); how many were. An id that is not a dead delivery is an Invalid naming it."""
    ids = list(dict.fromkeys(delivery_ids))
    if not ids:
        raise Invalid("name at least one delivery", field="ids")
    dead = set(session.scalars(select(NotificationDelivery.id).where(
        NotificationDelivery.id.in_(ids), NotificationDelivery.status == "dead").with_for_update()))
    missing = [i for i in ids if i not in dead]
    if missing:
        raise Invalid(f"not in the dead letters: {', '.join(map(str, missing[:20]))}", field="ids")
    session.execute(update(NotificationDelivery).where(NotificationDelivery.id.in_(ids)).values(
        status="pending", attempts=0, next_at=now, dead_at=None))
    return len(ids)


def delivery_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(NotificationDelivery.status, func.count())
                                .group_by(NotificationDelivery.status)).all())


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
