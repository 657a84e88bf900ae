"""Dealer requests (诉求): a dealer files one with its attachments (checked like evidence: size and
type by content; nothing kept when one is refused) and follows its thread; the one who answers
writes back, marks it waiting for the dealer (the clock stops) and closes it by completing its task;
the dealer rates the answer once and may reopen it. Another dealer's request is a 404."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Forbidden, Invalid, NotFound, TooLarge, Unsupported
from dealerflow.models import Dealer, HumanTask
from dealerflow.models import ServiceRequest
from dealerflow.service import reports as service_reports, requests as service
from dealerflow.shared import exports
from dealerflow.shared.accounts import day_start
from dealerflow.service.rules import ruleset as service_rules
from dealerflow.shared.evidence import ALLOWED, EvidenceStore, EvidenceTooLarge, EvidenceTypeNotAllowed, download_name

from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep, require_role
from api.errors import responses
from api.i18n import locale_of
from api.schemas import BIGINT
from api.scope import STAFF, dealer_filter
from api.service.schemas import (CategoryRead, CloseRequest, Rating, Reopen, RequestRead, RequestSummary,
                                 SlaReport, StatusChange)
from api.service.temporal import signal_reopen, start_request
from api.service.views import attachment_of, categories, request_list, request_read, visible_request
from api.tasks.schemas import TaskComplete
from api.tasks.temporal import complete_task
from api.uploads import check_declared_size, stream_form

router = APIRouter(tags=["service"])
FILE_FIELDS = ("photo", "document")
MAX_FORM = sum(ALLOWED[k][1] for k in FILE_FIELDS) + 1024 * 1024
STATUSES = ("active", "open", "in_progress", "waiting_dealer", "closed")

FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {
        "category": {"type": "string", "maxLength": 32}, "subject": {"type": "string", "maxLength": 200},
        "text": {"type": "string", "maxLength": 5000},
        "photo": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "document": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}
MESSAGE_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {
        "text": {"type": "string", "maxLength": 5000},
        "photo": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "document": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}


@dataclass
class ServiceForm:
    fields: dict
    staged: list  # (temporary path, StoredFile)

    def attachments(self) -> list[dict]:
        return [{"kind": f.kind, "filename": f.filename, "content_type": f.content_type, "size": f.size,
                 "sha256": f.sha256} for _, f in self.staged]


async def receive_form(request: Request, check=None) -> ServiceForm:
    """A request's form as it arrives: the declared size first, then `check` (scope: a 404 before
    anything is read), then each file streamed into the evidence store under its kind's limit and
    checked by content. Shared by the API and the console."""
    check_declared_size(request, MAX_FORM, "the upload")
    if check is not None:
        await run_in_threadpool(check)
    store = EvidenceStore(request.app.state.settings.evidence_path)
    streamed = await stream_form(request, limit=MAX_FORM, open_file=lambda kind, name: store.begin(kind, name),
                                 file_fields=FILE_FIELDS, max_files=10)

    try:
        staged = await streamed.finish()
    except EvidenceTooLarge as e:
        raise TooLarge(str(e)) from None
    except EvidenceTypeNotAllowed as e:
        raise Unsupported(str(e)) from None
    return ServiceForm(streamed.fields, staged)


def _discard(request: Request, form: ServiceForm) -> None:
    store = EvidenceStore(request.app.state.settings.evidence_path)
    for path, _ in form.staged:
        store.discard(path)


def _keep(request: Request, form: ServiceForm) -> None:
    store = EvidenceStore(request.app.state.settings.evidence_path)
    for path, stored in form.staged:
        store.keep(path, stored)


async def file_request(*, request: Request, client, user, form: ServiceForm) -> str:
    """File a dealer's request: checked and written in one transaction, its workflow started before the
    commit (if Temporal is down nothing is recorded); returns its id. Shared by the API and the console."""
    settings, sessions = request.app.state.settings, request.app.state.sessions
    now = datetime.now(timezone.utc)

    def record():
        session = sessions()
        try:
            dealer = session.get(Dealer, user.dealer_id)
            req, task = service.file_request(session, dealer=dealer, actor=user.username,
                                             category=form.fields.get("category"), subject=form.fields.get("subject"),
                                             text=form.fields.get("text"), attachments=form.attachments(), now=now)
            _, spec = service_rules(session)
            return session, req, task, spec.reopen_within, dealer.code, dealer.region
        except BaseException:
            session.close()
            raise
    try:
        session, req, task, reopen_within, code, region = await run_in_threadpool(record)
    except BaseException:
        _discard(request, form)
        raise
    try:
        await start_request(client=client, task_queue=settings.task_queue, workflow_id=req.workflow_id,
                            request_id=str(req.id), task=task, reopen_within=reopen_within, dealer_code=code,
                            region=region)
        _keep(request, form)
        await run_in_threadpool(session.commit)
        return str(req.id)
    except BaseException:
        _discard(request, form)
        raise
    finally:
        await run_in_threadpool(session.close)


def _read(request: Request, user, request_id: str) -> dict:
    with request.app.state.sessions() as s:
        return request_read(s, visible_request(s, user, request_id), lang=locale_of(request))


@router.get("/api/v1/service/categories", response_model=list[CategoryRead])
def list_categories(request: Request, session: SessionDep, user: CurrentUser):
    """The categories a dealer may file a request in, from the service rule file."""
    return categories(session, locale_of(request))


@router.post("/api/v1/service/requests", response_model=RequestRead, status_code=201,
             responses=responses(413, 415, 503), openapi_extra=FORM)
async def create_request(request: Request, client: TemporalDep, user: DealerUser):
    """Multipart: `category`, `subject`, `text`, and `photo` / `document` files. Routed to the category's
    role (the dealer's account manager by default) under the targets of the dealer's tier."""
    form = await receive_form(request)
    request_id = await file_request(request=request, client=client, user=user, form=form)
    return await run_in_threadpool(_read, request, user, request_id)


@router.get("/api/v1/service/requests", response_model=list[RequestSummary])
def list_requests(session: SessionDep, user: CurrentUser,
                  status: Annotated[str | None, Query(max_length=16)] = None,
                  category: Annotated[str | None, Query(max_length=32)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    """The requests the caller may see (a dealer its own, staff their dealers'), newest first;
    `status` one of active, open, in_progress, waiting_dealer, closed."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"one of {', '.join(STATUSES)}", field="status")
    return request_list(session, user, status=status, category=category, limit=limit, offset=offset)


@router.get("/api/v1/service/requests/{request_id}", response_model=RequestRead)
def get_request(request_id: str, request: Request, session: SessionDep, user: CurrentUser):
    return request_read(session, visible_request(session, user, request_id), lang=locale_of(request))


async def post_message(*, request: Request, user, request_id: str, form: ServiceForm) -> None:
    def record():
        with request.app.state.sessions.begin() as s:
            r = visible_request(s, user, request_id)
            service.post_message(s, r, user=user, text=form.fields.get("text"), attachments=form.attachments(),
                                 now=datetime.now(timezone.utc))
    try:
        await run_in_threadpool(record)
    except BaseException:
        _discard(request, form)
        raise
    _keep(request, form)


def _may_write(user) -> None:
    if user.role != "dealer" and user.role not in STAFF:
        raise Forbidden("requires the dealer or staff")


@router.post("/api/v1/service/requests/{request_id}/messages", response_model=RequestRead, status_code=201,
             responses=responses(409, 413, 415), openapi_extra=MESSAGE_FORM)
async def add_message(request_id: str, request: Request, user: CurrentUser):
    """Multipart: `text` and `photo` / `document` files. Staff's first answer stops the first-response
    clock; the dealer's answer to a request waiting for it starts the clock again."""
    _may_write(user)

    def visible():
        with request.app.state.sessions() as s:
            visible_request(s, user, request_id)
    form = await receive_form(request, visible)
    await post_message(request=request, user=user, request_id=request_id, form=form)
    return await run_in_threadpool(_read, request, user, request_id)


def change_status(session, user, request_id: str, status: str) -> None:
    if user.role == "dealer":
        raise Forbidden("the one who answers sets the status")
    service.set_status(session, visible_request(session, user, request_id), user=user, status=status,
                       now=datetime.now(timezone.utc))


@router.post("/api/v1/service/requests/{request_id}/status", response_model=RequestRead, responses=responses(409))
def set_status(request_id: str, body: StatusChange, request: Request, user: CurrentUser):
    """Staff: `in_progress`, or `waiting_dealer` (the clock stops while the service rule file says so)."""
    with request.app.state.sessions.begin() as s:
        change_status(s, user, request_id, body.status)
    return _read(request, user, request_id)


async def close_request(*, request: Request, client, user, request_id: str, outcome: str, comment: str) -> None:
    """Close by completing the request's human task (its role checks apply); the request's workflow
    then closes it and asks the dealer to rate."""
    def task_of():
        with request.app.state.sessions() as s:
            r = visible_request(s, user, request_id)
            task = s.get(HumanTask, r.task_id) if r.task_id else None
            if task is None:
                raise NotFound("request not found")
            s.expunge(task)
            return task
    task = await run_in_threadpool(task_of)
    await complete_task(client=client, sessions=request.app.state.sessions, user=user, task=task,
                        body=TaskComplete(outcome=outcome, comment=comment))


@router.post("/api/v1/service/requests/{request_id}/close", response_model=RequestRead, status_code=202,
             responses=responses(409, 503))
async def close(request_id: str, body: CloseRequest, request: Request, client: TemporalDep, user: CurrentUser):
    """Staff close a request: outcome `resolved`, or `approved` / `rejected` for an approval category
    (a promotion application), with a comment the dealer reads. Closed in the background: read it again."""
    if user.role == "dealer":
        raise Forbidden("the one who answers closes a request")
    await close_request(request=request, client=client, user=user, request_id=request_id, outcome=body.outcome,
                        comment=body.comment)
    return await run_in_threadpool(_read, request, user, request_id)


def rate_request(session, user, request_id: str, score: int, comment: str) -> None:
    service.rate(session, visible_request(session, user, request_id), user=user, score=score, comment=comment,
                 now=datetime.now(timezone.utc))


@router.post("/api/v1/service/requests/{request_id}/rating", response_model=RequestRead, responses=responses(409))
def rate(request_id: str, body: Rating, request: Request, user: DealerUser):
    """The dealer rates a closed request once, on the rule file's scale, with a comment."""
    with request.app.state.sessions.begin() as s:
        rate_request(s, user, request_id, body.score, body.comment)
    return _read(request, user, request_id)


async def reopen_request(*, request: Request, client, user, request_id: str, text: str) -> None:
    sessions = request.app.state.sessions

    def record():
        session = sessions()
        try:
            r = visible_request(session, user, request_id)
            task = service.reopen(session, r, user=user, text=text, now=datetime.now(timezone.utc))
            return session, r.workflow_id, task
        except BaseException:
            session.close()
            raise
    session, workflow_id, task = await run_in_threadpool(record)
    try:
        await signal_reopen(client=client, workflow_id=workflow_id, task=task)
        await run_in_threadpool(session.commit)
    finally:
        await run_in_threadpool(session.close)


@router.post("/api/v1/service/requests/{request_id}/reopen", response_model=RequestRead,
             responses=responses(409, 503))
async def reopen(request_id: str, body: Reopen, request: Request, client: TemporalDep, user: DealerUser):
    """The dealer reopens a closed request within the rule file's window, saying why."""
    await reopen_request(request=request, client=client, user=user, request_id=request_id, text=body.text)
    return await run_in_threadpool(_read, request, user, request_id)


@router.get("/api/v1/service/requests/{request_id}/attachments/{message_id}/{index}", response_class=FileResponse,
            responses={200: {"description": "the file as it was uploaded",
                             "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
def attachment(request_id: str, message_id: Annotated[int, Path(ge=1, le=BIGINT)],
               index: Annotated[int, Path(ge=0, le=100)], request: Request, session: SessionDep, user: CurrentUser):
    r = visible_request(session, user, request_id)
    a = attachment_of(session, r, message_id, index)
    path = EvidenceStore(request.app.state.settings.evidence_path).path(a["sha256"])
    name = download_name(f"request-{r.number}-{message_id}-{index}", a.get("content_type"))
    return FileResponse(path, media_type=a.get("content_type") or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff"})


CHINA_TZ = timezone(timedelta(hours=8))


def sla_report(session, user, since: date | None, until: date | None) -> dict:
    """The SLA report over requests filed from `since` to `until` (Beijing days, both included; default
    the last 30 days), scoped to the caller's dealers."""
    now = datetime.now(timezone.utc)
    until = until or now.astimezone(timezone(timedelta(hours=8))).date()
    since = since or until - timedelta(days=29)
    if since > until:
        raise Invalid("the first day comes after the last", field="since")
    return service_reports.report(session, since=day_start(since), until=day_start(until + timedelta(days=1)),
                                  now=now, scope=dealer_filter(user, ServiceRequest.dealer_id))


@router.get("/api/v1/service/reports/sla", response_model=SlaReport, dependencies=[require_role(*STAFF)])
def get_sla_report(session: SessionDep, user: CurrentUser, since: date | None = None, until: date | None = None):
    """Targets met and breached by tier, region, category and person; satisfaction; open backlog by age.
    A region manager or account manager sees its own dealers' requests."""
    return sla_report(session, user, since, until)


@router.get("/api/v1/service/reports/sla/export", dependencies=[require_role(*STAFF)], response_class=Response,
            responses={200: {"description": "the SLA report as one table",
                             "content": {exports.MEDIA_TYPE: {"schema": {"type": "string"}},
                                         exports.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
def export_sla_report(session: SessionDep, user: CurrentUser, since: date | None = None, until: date | None = None,
                      format: Annotated[Literal["csv", "xlsx"],
                                        Query(description="csv (UTF-8 with BOM) or xlsx")] = "csv"):
    """The SLA report as a download: a section per tier, region, category and person, the totals, the
    backlog by age, and any year whose holidays were not known."""
    data = sla_report(session, user, since, until)
    rows = service_reports.export_rows(data)
    if format == "csv":
        body, media = exports.table_csv(service_reports.COLUMNS, rows), exports.MEDIA_TYPE
    else:
        body, media = exports.table_xlsx(service_reports.COLUMNS, rows, title="SLA"), exports.XLSX_TYPE
    name = f"sla-{data['since'].astimezone(CHINA_TZ).date()}-{(data['until'] - timedelta(days=1)).astimezone(CHINA_TZ).date()}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})
