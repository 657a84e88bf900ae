"""Console pages of dealer requests, phone first: a dealer files one (with photos or documents) and
follows its thread, rates and reopens it; the one who answers writes back, marks it waiting for
the dealer and closes it. The same services as the JSON API."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError, NotFound

from api.deps import SessionDep, TemporalDep
from api.i18n import locale_of
from api.pages import N_, ConsoleUser, back, page, refusal, require, translator
from api.paging import paging
from api.scope import STAFF
from api.service import routes as api
from api.service.views import categories, request_count, request_list, request_read, visible_request

router = APIRouter(prefix="/console", include_in_schema=False)


def _t(request: Request, message: str) -> str:
    _ = translator(request)
    return _(message)


# The flash messages of the forms below, marked for extraction; translated where shown.
DONE = (N_("Request sent."), N_("Message sent."), N_("Status changed."),
        N_("Closed: the dealer is asked to rate the answer."), N_("Thank you for your rating."),
        N_("Request reopened."))
STATUSES = ("active", "open", "in_progress", "waiting_dealer", "closed")


@router.get("/service")
def requests_page(request: Request, session: SessionDep, user: ConsoleUser, status: str | None = None,
                  category: str | None = None):
    status = status if status in STATUSES else None
    names = [c["name"] for c in categories(session, locale_of(request))]
    category = category if category in names else None
    pager = paging(request, request_count(session, user, status=status, category=category), status=status or "",
                   category=category or "")
    rows = request_list(session, user, status=status, category=category, limit=pager.limit, offset=pager.offset)
    return page(request, "service_requests.html", user, requests=rows, total=pager.total, pager=pager,
                status=status or "", statuses=STATUSES, category=category or "",
                categories=categories(session, locale_of(request)))


def _new_page(request: Request, user, message: str | None = None, status_code: int = 200, form: dict | None = None):
    with request.app.state.sessions() as session:
        return page(request, "service_new.html", user, status_code, categories=categories(session, locale_of(request)),
                    error=message, form=form or {})


@router.get("/service/new")
def new_page(request: Request, user: ConsoleUser):
    require(user, "dealer")
    return _new_page(request, user)


@router.post("/service/new")
async def file_request(request: Request, client: TemporalDep, user: ConsoleUser):
    require(user, "dealer")
    form = None
    try:
        form = await api.receive_form(request)
        request_id = await api.file_request(request=request, client=client, user=user, form=form)
    except DomainError as e:
        message, status_code = refusal(e, request)
        return await run_in_threadpool(_new_page, request, user, message, status_code,
                                       dict(form.fields) if form else {})
    return back(f"/console/service/{request_id}", flash=_t(request, "Request sent."))


@router.get("/service/reports")
def reports_page(request: Request, session: SessionDep, user: ConsoleUser, since: str | None = None,
                 until: str | None = None):
    """The SLA report: the same figures as the API, as tables that read on a phone."""
    require(user, *STAFF)
    from datetime import date
    error = None
    try:
        first = date.fromisoformat(since) if since else None
        last = date.fromisoformat(until) if until else None
        data = api.sla_report(session, user, first, last)
    except (ValueError, DomainError) as e:
        error = _t(request, "Give the days as 2026-10-08, the first before the last.")
        data = api.sla_report(session, user, None, None)
        del e
    return page(request, "service_reports.html", user, 422 if error else 200, report=data, error=error,
                since=since or "", until=until or "")


def _request_page(request: Request, user, request_id: str, message: str | None = None, status_code: int = 200):
    with request.app.state.sessions() as session:
        r = visible_request(session, user, request_id)
        read = request_read(session, r, lang=locale_of(request))
    task = read["task"] or {}
    staff = user.role != "dealer"
    return page(request, "service_request.html", user, status_code, r=read, error=message,
                may_answer=read["status"] != "closed",
                may_set_status=staff and read["status"] != "closed",
                may_close=staff and task.get("status") == "open",
                may_rate=user.role == "dealer" and read["status"] == "closed" and read["satisfaction"] is None,
                may_reopen=user.role == "dealer" and read["status"] == "closed",
                scale=list(range(read["rating_scale"][0], read["rating_scale"][1] + 1)))


@router.get("/service/{request_id}")
def request_page(request_id: str, request: Request, user: ConsoleUser):
    return _request_page(request, user, request_id)


async def _act(request: Request, user, request_id: str, action, done: str):
    try:
        await action()
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        message, status_code = refusal(e, request)
        return await run_in_threadpool(_request_page, request, user, request_id, message, status_code)
    return back(f"/console/service/{request_id}", flash=done)


@router.post("/service/{request_id}/messages")
async def add_message(request_id: str, request: Request, user: ConsoleUser):
    def visible():
        with request.app.state.sessions() as s:
            visible_request(s, user, request_id)

    async def action():
        form = await api.receive_form(request, visible)
        await api.post_message(request=request, user=user, request_id=request_id, form=form)
    return await _act(request, user, request_id, action, _t(request, "Message sent."))


@router.post("/service/{request_id}/status")
async def set_status(request_id: str, request: Request, user: ConsoleUser, status: Annotated[str, Form(max_length=16)]):
    async def action():
        def run():
            with request.app.state.sessions.begin() as s:
                api.change_status(s, user, request_id, status)
        await run_in_threadpool(run)
    return await _act(request, user, request_id, action, _t(request, "Status changed."))


@router.post("/service/{request_id}/close")
async def close(request_id: str, request: Request, client: TemporalDep, user: ConsoleUser,
                outcome: Annotated[str, Form(max_length=32)], comment: Annotated[str, Form(max_length=2000)] = ""):
    require(user, *[r for r in ("admin", "hq", "credit_manager", "account_manager", "region_manager", "finance")])

    async def action():
        await api.close_request(request=request, client=client, user=user, request_id=request_id, outcome=outcome,
                                comment=comment)
    return await _act(request, user, request_id, action,
                      _t(request, "Closed: the dealer is asked to rate the answer."))


@router.post("/service/{request_id}/rating")
async def rate(request_id: str, request: Request, user: ConsoleUser, score: Annotated[str, Form(max_length=4)],
               comment: Annotated[str, Form(max_length=2000)] = ""):
    require(user, "dealer")

    async def action():
        from dealerflow.core.errors import Invalid
        if not score.strip().lstrip("-").isdigit():
            raise Invalid("a whole number", field="score")

        def run():
            with request.app.state.sessions.begin() as s:
                api.rate_request(s, user, request_id, int(score), comment)
        await run_in_threadpool(run)
    return await _act(request, user, request_id, action, _t(request, "Thank you for your rating."))


@router.post("/service/{request_id}/reopen")
async def reopen(request_id: str, request: Request, client: TemporalDep, user: ConsoleUser,
                 text: Annotated[str, Form(max_length=5000)] = ""):
    require(user, "dealer")

    async def action():
        await api.reopen_request(request=request, client=client, user=user, request_id=request_id, text=text)
    return await _act(request, user, request_id, action, _t(request, "Request reopened."))
