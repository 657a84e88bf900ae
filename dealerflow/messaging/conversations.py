"""Each dealer's conversation with its account manager and HQ: one thread per dealer, unread counts
from how far each reader has read (the dealer's users share one mark; staff have their own)."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid
from dealerflow.messaging.attachments import MAX_FILES, attach
from dealerflow.models import ConversationMessage, ConversationRead, Dealer, User
from dealerflow.shared.notifications import notify

MAX_TEXT = 5000
DEALER_READER = "dealer"


def reader_of(user: User) -> str:
    return DEALER_READER if user.role == "dealer" else user.username


def post(session: Session, *, dealer: Dealer, user: User, text: str | None, now: datetime,
         attachments: Sequence[dict] = ()) -> ConversationMessage:
    """A message of text, files (checked like evidence by the caller) or both."""
    body = (text or "").strip()
    if not body and not attachments:
        raise Invalid("must not be empty", field="text")
    if len(attachments) > MAX_FILES:
        raise Invalid(f"at most {MAX_FILES} files", field="files")
    if len(body) > MAX_TEXT:
        raise Invalid(f"at most {MAX_TEXT} characters", field="text")
    from_dealer = user.role == "dealer"
    m = ConversationMessage(dealer_id=dealer.id, author=user.username, from_dealer=from_dealer, body=body,
                            created_at=now)
    session.add(m)
    session.flush()
    attach(session, attachments, message_id=m.id)
    summary = body[:80] or ", ".join(f["filename"] for f in attachments)[:80]
    mark_read(session, dealer_id=dealer.id, user=user, upto=m.id)
    link = f"/console/conversations/{dealer.code}"
    if from_dealer:
        manager = session.scalar(select(User.id).where(User.username == dealer.account_manager)) \
            if dealer.account_manager else None
        notify(session, user_id=manager, role=None if manager else "hq", kind="message",
               title=f"{dealer.name}: {summary}", link=link)
    else:
        notify(session, dealer_id=dealer.id, kind="message", title=f"{user.username}: {summary}", link=link)
    return m


def thread(session: Session, dealer_id: int, limit: int = 200) -> list[ConversationMessage]:
    rows = session.scalars(select(ConversationMessage).where(ConversationMessage.dealer_id == dealer_id)
                           .order_by(ConversationMessage.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def mark_read(session: Session, *, dealer_id: int, user: User, upto: int | None = None) -> None:
    if upto is None:
        upto = session.scalar(select(func.max(ConversationMessage.id)).where(
            ConversationMessage.dealer_id == dealer_id))
    if upto is None:
        return
    stmt = insert(ConversationRead).values(dealer_id=dealer_id, reader=reader_of(user), last_read_id=upto)
    session.execute(stmt.on_conflict_do_update(index_elements=["dealer_id", "reader"],
                                               set_={"last_read_id": func.greatest(ConversationRead.last_read_id,
                                                                                   stmt.excluded.last_read_id)}))


def threads(session: Session, user: User, *, scope: ColumnElement | None = None, limit: int = 200) -> list[dict]:
    """The conversations the user sees, the latest first, each with its unread count for this reader
    (messages from the other side after the reader's mark)."""
    reader = reader_of(user)
    other_side = ConversationMessage.from_dealer.is_(user.role != "dealer")
    last_read = (select(ConversationRead.last_read_id).where(ConversationRead.dealer_id == ConversationMessage.dealer_id,
                                                              ConversationRead.reader == reader)
                 .correlate(ConversationMessage).scalar_subquery())
    q = (select(ConversationMessage.dealer_id, Dealer.code, Dealer.name, func.max(ConversationMessage.id).label("last"),
                func.max(ConversationMessage.created_at).label("at"),
                func.count().filter(and_(other_side, ConversationMessage.id > func.coalesce(last_read, 0)))
                .label("unread"))
         .join(Dealer, Dealer.id == ConversationMessage.dealer_id)
         .group_by(ConversationMessage.dealer_id, Dealer.code, Dealer.name)
         .order_by(func.max(ConversationMessage.id).desc()).limit(limit))
    if scope is not None:
        q = q.where(scope)
    return [{"dealer_code": r.code, "dealer_name": r.name, "last_at": r.at, "unread": r.unread}
            for r in session.execute(q)]


def unread_total(session: Session, user: User, *, scope: ColumnElement | None = None) -> int:
    return sum(t["unread"] for t in threads(session, user, scope=scope, limit=10000))
