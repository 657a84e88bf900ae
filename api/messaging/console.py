"""Console pages of announcements and conversations, phone first."""
from __future__ import annotations

from datetime import datetime, timezone
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError, NotFound
from dealerflow.messaging import announcements, attachments, conversations
from dealerflow.models import ConversationMessage

from api.deps import SessionDep
from api.messaging.files import receive
from api.messaging.routes import post_form, publish_form, visible_dealer
from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.scope import dealer_filter

router = APIRouter(prefix="/console", include_in_schema=False)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _list(request: Request, session, user, error: str | None = None, status_code: int = 200, form: dict | None = None):
    rows = (announcements.for_dealer(session, user.dealer_id) if user.role == "dealer"
            else announcements.published(session))
    return page(request, "announcements.html", user, status_code, announcements=rows, error=error, form=form or {},
                may_publish=user.role in ("hq", "admin"))


@router.get("/announcements")
def announcements_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer", "hq", "admin")
    return _list(request, session, user)


@router.post("/announcements")
async def publish(request: Request, user: ConsoleUser):
    """Multipart: the announcement's fields and its files, checked like evidence."""
    require(user, "hq", "admin")
    form = None
    try:
        form = await receive(request)
        a = await publish_form(request, user, form)
    except DomainError as e:
        message, status_code = refusal(e, request)
        fields = dict(form.fields) if form else getattr(e, "fields", {})

        def again():
            with request.app.state.sessions() as session:
                return _list(request, session, user, message, status_code, fields)
        return await run_in_threadpool(again)
    _ = translator(request)
    return back(f"/console/announcements/{a['id']}", flash=_("Announcement published to %(n)s dealers.",
                                                              n=a["recipients"]))


@router.get("/announcements/{announcement_id}")
def announcement_page(announcement_id: int, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer", "hq", "admin")
    if user.role == "dealer":
        a = announcements.open_for(session, announcement_id, user.dealer_id, _now())
        session.commit()
    else:
        a = announcements.for_staff(session, announcement_id)
    return page(request, "announcement.html", user, a=a,
                may_ack=user.role == "dealer" and a["ack_required"] and a["acked_at"] is None)


@router.post("/announcements/{announcement_id}/acknowledge")
def acknowledge(announcement_id: int, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer")
    announcements.acknowledge(session, announcement_id, user.dealer_id, _now())
    session.commit()
    _ = translator(request)
    return back(f"/console/announcements/{announcement_id}", flash=_("Acknowledged."))


@router.get("/conversations")
def conversations_page(request: Request, session: SessionDep, user: ConsoleUser):
    if user.role == "dealer":
        return RedirectResponse(f"/console/conversations/{user.dealer.code}", status_code=303)
    threads = conversations.threads(session, user, scope=dealer_filter(user, ConversationMessage.dealer_id))
    return page(request, "conversations.html", user, threads=threads)


def _thread(request: Request, session, user, code: str, error: str | None = None, status_code: int = 200):
    dealer = visible_dealer(session, user, code)
    messages = conversations.thread(session, dealer.id)
    files = attachments.of_messages(session, [m.id for m in messages])
    conversations.mark_read(session, dealer_id=dealer.id, user=user)
    session.commit()
    return page(request, "conversation.html", user, status_code, dealer=dealer, messages=messages, error=error,
                files=files)


@router.get("/conversations/{code}")
def conversation_page(code: str, request: Request, session: SessionDep, user: ConsoleUser):
    return _thread(request, session, user, code)


@router.post("/conversations/{code}")
async def write(code: str, request: Request, user: ConsoleUser):
    """Multipart: the text and files (photos, documents) checked like evidence."""
    try:
        await post_form(request, user, code)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        message, status_code = refusal(e, request)

        def again():
            with request.app.state.sessions() as session:
                return _thread(request, session, user, code, message, status_code)
        return await run_in_threadpool(again)
    return back(f"/console/conversations/{code}")
