"""Announcements (HQ publishes to the dealers a target condition selects; dealers read and, when asked,
acknowledge) and conversations (a dealer with its account manager and HQ, with unread counts)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import NotFound
from dealerflow.messaging import announcements, attachments, conversations
from dealerflow.models import ConversationMessage, Dealer

from api.deps import CurrentUser, DealerUser, SessionDep, require_role
from api.errors import responses
from api.messaging.files import FILE_RESPONSE, ReceivedForm, file_response, form_schema, receive
from api.messaging.schemas import (AnnouncementCreate, AnnouncementRead, ConversationMessageRead, MessageCreate,
                                   ThreadSummary)
from api.schemas import BIGINT
from api.scope import dealer_filter, sees_dealer

router = APIRouter(tags=["messaging"])
HQ = ("hq", "admin")
AnnouncementId = Annotated[int, Path(ge=1, le=BIGINT)]
AttachmentId = Annotated[int, Path(ge=1, le=BIGINT)]
ANNOUNCEMENT_FORM = form_schema(title={"type": "string", "maxLength": 200}, body={"type": "string", "maxLength": 20000},
                                target={"type": "string", "maxLength": 2000},
                                ack_required={"type": "string", "enum": ["", "true", "false"]})
MESSAGE_FORM = form_schema(text={"type": "string", "maxLength": 5000})


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


def flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("1", "true", "on", "yes")


async def publish_form(request: Request, user, form: ReceivedForm | None = None) -> dict:
    """Publish from a multipart form with its files (shared by the API and the console): nothing is
    kept when a file or a field is refused."""
    form = form or await receive(request)

    def record():
        with request.app.state.sessions() as session:
            a = announcements.publish(session, title=form.fields.get("title"), body=form.fields.get("body"),
                                      target=form.fields.get("target"), ack_required=flag(form.fields.get("ack_required")),
                                      actor=user.username, now=now(), attachments=form.files())
            form.keep(request)  # stored by content: a copy left by a failed commit is harmless
            session.commit()
            return announcements.for_staff(session, a.id)
    try:
        return await run_in_threadpool(record)
    except BaseException:
        form.discard(request)
        raise


@router.post("/api/v1/announcements/with-files", response_model=AnnouncementRead, status_code=201,
             dependencies=[require_role(*HQ)], responses=responses(413, 415), openapi_extra=ANNOUNCEMENT_FORM)
async def publish_with_files(request: Request, user: CurrentUser):
    """Multipart: `title`, `body`, `target`, `ack_required` and `photo` / `document` files (checked like
    evidence: size and type by content)."""
    return await publish_form(request, user)


@router.get("/api/v1/announcements/{announcement_id}/files/{file_id}", response_class=FileResponse,
            responses=FILE_RESPONSE, dependencies=[require_role("dealer", *HQ)])
def announcement_file(announcement_id: AnnouncementId, file_id: AttachmentId, request: Request,
                      session: SessionDep, user: CurrentUser):
    """A file of an announcement: a dealer's only of one sent to it (otherwise 404)."""
    a = attachments.announcement_file(session, announcement_id=announcement_id, attachment_id=file_id,
                                      dealer_id=user.dealer_id if user.role == "dealer" else None)
    return file_response(request, a, f"announcement-{announcement_id}-{file_id}")


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
    return announcements.for_staff(session, announcement_id)


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
    files = attachments.of_messages(session, [m.id for m in messages])
    conversations.mark_read(session, dealer_id=dealer.id, user=user)
    session.commit()
    return [message_read(m, files[m.id]) for m in messages]


def message_read(m: ConversationMessage, files: list[dict] | None = None) -> dict:
    return {"id": m.id, "author": m.author, "from_dealer": m.from_dealer, "body": m.body, "created_at": m.created_at,
            "attachments": files or []}


@router.post("/api/v1/conversations/{code}/messages", response_model=ConversationMessageRead, status_code=201)
def post_message(code: str, body: MessageCreate, session: SessionDep, user: CurrentUser):
    """Write to a dealer's conversation: the dealer, its account manager, its region manager or HQ."""
    dealer = visible_dealer(session, user, code)
    m = conversations.post(session, dealer=dealer, user=user, text=body.text, now=now())
    session.commit()
    return message_read(m)


async def post_form(request: Request, user, code: str, form: ReceivedForm | None = None) -> dict:
    """Write text and files to a dealer's conversation from a multipart form (the API and the console):
    the caller's scope is checked before the body is read; nothing is kept when anything is refused."""
    sessions = request.app.state.sessions

    def visible():
        with sessions() as s:
            visible_dealer(s, user, code)
    form = form or await receive(request, visible)

    def record():
        with sessions() as session:
            dealer = visible_dealer(session, user, code)
            m = conversations.post(session, dealer=dealer, user=user, text=form.fields.get("text"), now=now(),
                                   attachments=form.files())
            form.keep(request)
            session.commit()
            return message_read(m, attachments.of_messages(session, [m.id])[m.id])
    try:
        return await run_in_threadpool(record)
    except BaseException:
        form.discard(request)
        raise


@router.post("/api/v1/conversations/{code}/messages/with-files", response_model=ConversationMessageRead,
             status_code=201, responses=responses(413, 415), openapi_extra=MESSAGE_FORM)
async def post_message_with_files(code: str, request: Request, user: CurrentUser):
    """Multipart: `text` (may be empty when files are sent) and `photo` / `document` files."""
    return await post_form(request, user, code)


@router.get("/api/v1/conversations/{code}/files/{attachment_id}", response_class=FileResponse,
            responses=FILE_RESPONSE)
def conversation_file(code: str, attachment_id: AttachmentId, request: Request, session: SessionDep,
                      user: CurrentUser):
    """A file of a conversation the caller sees (another dealer's: 404)."""
    dealer = visible_dealer(session, user, code)
    a = attachments.conversation_file(session, dealer_id=dealer.id, attachment_id=attachment_id)
    return file_response(request, a, f"conversation-{code}-{attachment_id}")
