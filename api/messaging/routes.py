"""Announcements (HQ publishes to the dealers a target condition selects; dealers read and, when asked,
acknowledge) and conversations (a dealer with its account manager and HQ, with unread counts)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from dealerflow.core.errors import NotFound
from dealerflow.messaging import announcements, conversations
from dealerflow.models import Announcement, ConversationMessage, Dealer

from api.deps import CurrentUser, DealerUser, SessionDep, require_role
from api.errors import responses
from api.messaging.schemas import (AnnouncementCreate, AnnouncementRead, ConversationMessageRead, MessageCreate,
                                   ThreadSummary)
from api.schemas import BIGINT
from api.scope import dealer_filter, sees_dealer

router = APIRouter(tags=["messaging"])
HQ = ("hq", "admin")
AnnouncementId = Annotated[int, Path(ge=1, le=BIGINT)]


def now() -> datetime:
    return datetime.now(timezone.utc)


@router.post("/api/v1/announcements", response_model=AnnouncementRead, status_code=201,
             dependencies=[require_role(*HQ)])
def publish(body: AnnouncementCreate, session: SessionDep, user: CurrentUser):
    """Publish to the dealers `target` selects (the condition language of policy targeting over dealer
    facts, e.g. `dealer.tier == "core"`; `true`: every dealer); they find it in their inbox."""
    a = announcements.publish(session, title=body.title, body=body.body, target=body.target,
                              ack_required=body.ack_required, actor=user.username, now=now())
    session.commit()
    return announcements.read_model(a)


@router.get("/api/v1/announcements", response_model=list[AnnouncementRead],
            dependencies=[require_role("dealer", *HQ)])
def list_announcements(session: SessionDep, user: CurrentUser):
    """A dealer's announcements (with read and acknowledged times); for HQ, those published, with how
    many dealers have read each."""
    if user.role == "dealer":
        return announcements.for_dealer(session, user.dealer_id)
    return announcements.published(session)


@router.get("/api/v1/announcements/{announcement_id}", response_model=AnnouncementRead,
            dependencies=[require_role("dealer", *HQ)])
def get_announcement(announcement_id: AnnouncementId, session: SessionDep, user: CurrentUser):
    """Read one (a dealer's opening marks it read); an announcement not sent to the dealer is a 404."""
    if user.role == "dealer":
        out = announcements.open_for(session, announcement_id, user.dealer_id, now())
        session.commit()
        return out
    a = session.get(Announcement, announcement_id)
    if a is None:
        raise NotFound("announcement not found")
    return announcements.read_model(a)


@router.post("/api/v1/announcements/{announcement_id}/acknowledge", response_model=AnnouncementRead,
             responses=responses(409))
def acknowledge(announcement_id: AnnouncementId, session: SessionDep, user: DealerUser):
    out = announcements.acknowledge(session, announcement_id, user.dealer_id, now())
    session.commit()
    return out


def visible_dealer(session, user, code: str) -> Dealer:
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None or not sees_dealer(user, dealer):
        raise NotFound("dealer not found")
    return dealer


@router.get("/api/v1/conversations", response_model=list[ThreadSummary])
def list_threads(session: SessionDep, user: CurrentUser):
    """The conversations the caller sees, the latest first, with the messages it has not read."""
    return conversations.threads(session, user, scope=dealer_filter(user, ConversationMessage.dealer_id))


@router.get("/api/v1/conversations/{code}", response_model=list[ConversationMessageRead])
def get_thread(code: str, session: SessionDep, user: CurrentUser):
    """A dealer's conversation; reading it marks it read for the caller."""
    dealer = visible_dealer(session, user, code)
    messages = conversations.thread(session, dealer.id)
    conversations.mark_read(session, dealer_id=dealer.id, user=user)
    session.commit()
    return [{"id": m.id, "author": m.author, "from_dealer": m.from_dealer, "body": m.body,
             "created_at": m.created_at} for m in messages]


@router.post("/api/v1/conversations/{code}/messages", response_model=ConversationMessageRead, status_code=201)
def post_message(code: str, body: MessageCreate, session: SessionDep, user: CurrentUser):
    """Write to a dealer's conversation: the dealer, its account manager, its region manager or HQ."""
    dealer = visible_dealer(session, user, code)
    m = conversations.post(session, dealer=dealer, user=user, text=body.text, now=now())
    session.commit()
    return {"id": m.id, "author": m.author, "from_dealer": m.from_dealer, "body": m.body, "created_at": m.created_at}
