"""Policy tasks: a dealer lists its tasks, submits evidence (checked for size and type; nothing is
kept when a file is refused), reads the reviewer's comment and resubmits. Points: the ledger.
The console's task page submits through the same `submit_uploads`."""
from __future__ import annotations

import json
from typing import Annotated
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from dataclasses import dataclass

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Conflict, Invalid, NotFound, TooLarge, Unsupported
from dealerflow.policies import tasks as policy_tasks
from dealerflow.shared.evidence import (ALLOWED, EvidenceStore, EvidenceTooLarge, EvidenceTypeNotAllowed,
                                       download_name)
from dealerflow.models import Dealer, Evidence

from api.schemas import BIGINT
from api.errors import responses
from api.policies.temporal import start_evidence_review
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep
from api.policies.views import assignment_read
from api.scope import parse_uuid, sees_dealer
from api.uploads import check_declared_size, stream_form
from api.policies.schemas import AssignmentRead, PointsRead

router = APIRouter(tags=["policy tasks"])
MAX_REQUEST = sum(limit for _, limit in ALLOWED.values()) + 1024 * 1024
MAX_FIGURES = 50
MAX_NOTE = 2000


def visible_assignment(session, user, assignment_id: str):
    """The assignment, if the caller may see its dealer (api/scope.py); else a 404."""
    aid = parse_uuid(assignment_id)
    a = policy_tasks.assignment_of(session, aid, None) if aid else None
    if a is None or not sees_dealer(user, session.get(Dealer, a.dealer_id)):
        raise NotFound("task not found")  # another dealer's task does not exist for you
    return a


@router.get("/api/v1/policy-tasks", response_model=list[AssignmentRead])
def my_tasks(session: SessionDep, user: DealerUser, policy: str | None = None):
    specs: dict = {}
    return [assignment_read(session, a, specs=specs)
            for a in policy_tasks.assignments_for(session, user.dealer_id, policy_id=policy)]


@router.get("/api/v1/policy-tasks/{assignment_id}", response_model=AssignmentRead)
def get_task(assignment_id: str, session: SessionDep, user: CurrentUser):
    return assignment_read(session, visible_assignment(session, user, assignment_id), with_evidence=True)


def _figures(raw: str | None) -> dict | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise Invalid(f"not JSON: {e.msg} at character {e.pos}", field="figures") from None
    if not isinstance(data, dict) or not data:
        raise Invalid("expected a JSON object of name → number", field="figures")
    if len(data) > MAX_FIGURES:
        raise Invalid(f"at most {MAX_FIGURES} figures", field="figures")
    out = {}
    for key, value in data.items():
        try:
            if isinstance(value, bool) or not isinstance(value, (int, str, float)):
                raise InvalidOperation
            number = Decimal(str(value))
            if not number.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise Invalid(f"expected a number, got {value!r}", field=f"figures.{key}") from None
        out[str(key)[:100]] = str(number)
    return out


EVIDENCE_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {
        "photo": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "video": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "document": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "figures": {"type": "string", "description": "a JSON object of name → number"},
        "note": {"type": "string", "maxLength": 2000}}}}}}}


@router.post("/api/v1/policy-tasks/{assignment_id}/evidence", response_model=AssignmentRead, status_code=201,
             responses=responses(409, 413, 415), openapi_extra=EVIDENCE_FORM)
async def submit_evidence(assignment_id: str, request: Request, client: TemporalDep, user: DealerUser):
    """Multipart: `photo`, `video`, `document` files and `figures` (a JSON object), as the task
    requires. The review goes to the task's reviewer as a human task. The caller is authenticated,
    the declared size checked and the task's visibility checked before a byte of the body is read."""
    form = await receive_evidence(request=request, user=user, assignment_id=assignment_id)
    return await submit_uploads(request=request, client=client, user=user, assignment_id=assignment_id, form=form)


@dataclass
class EvidenceForm:
    staged: list  # (temporary path, StoredFile) of each file, checked for size, type and expansion
    figures: str | None
    note: str


async def receive_evidence(*, request: Request, user, assignment_id: str) -> EvidenceForm:
    """Read an evidence form as it arrives, for a dealer already authenticated: the declared size is
    checked first, then that the task is theirs (404), then each file is streamed into the evidence
    store with its kind's limit (nothing goes to /tmp). Shared by the API and the console."""
    check_declared_size(request, MAX_REQUEST, "the upload")
    sessions = request.app.state.sessions
    store = EvidenceStore(request.app.state.settings.evidence_path)

    def visible():  # another dealer's task is a 404 before anything is read
        with sessions() as session:
            visible_assignment(session, user, assignment_id)

    await run_in_threadpool(visible)
    streamed = await stream_form(request, limit=MAX_REQUEST, open_file=lambda kind, name: store.begin(kind, name),
                                 file_fields=tuple(ALLOWED))

    try:
        staged = await streamed.finish()
    except EvidenceTooLarge as e:
        raise TooLarge(str(e)) from None
    except EvidenceTypeNotAllowed as e:
        raise Unsupported(str(e)) from None
    note = streamed.fields.get("note", "")
    if len(note) > MAX_NOTE:
        for path, _ in staged:
            store.discard(path)
        raise Invalid(f"at most {MAX_NOTE} characters", field="note")
    return EvidenceForm(staged, streamed.fields.get("figures") or None, note)


async def submit_uploads(*, request: Request, client, user, assignment_id: str, form: EvidenceForm) -> dict:
    """A dealer's submission, shared by the API and the console: returns the assignment with its
    evidence, or raises 404 / 409 / 422 (nothing kept) or 503."""
    settings, sessions = request.app.state.settings, request.app.state.sessions
    store = EvidenceStore(settings.evidence_path)
    staged = form.staged
    try:
        values = _figures(form.figures)
    except Invalid:
        for path, _ in staged:
            store.discard(path)
        raise
    note = form.note

    def record(staged):  # the transaction stays open until the review has started
        session = sessions()
        try:
            a = visible_assignment(session, user, assignment_id)
            task = policy_tasks.task_of(session, a)
            if task is None:
                raise policy_tasks.AssignmentStateError("this task is no longer part of the policy")
            review = policy_tasks.submit(session, assignment=a, task=task, files=[f for _, f in staged],
                                         figures=values, note=note, actor=user.username,
                                         now=datetime.now(timezone.utc))
            return session, review
        except BaseException:
            session.close()
            raise

    try:
        session, review = await run_in_threadpool(record, staged)
    except BaseException as e:
        for path, _ in staged:
            store.discard(path)
        if not isinstance(e, (policy_tasks.AssignmentStateError, policy_tasks.EvidenceMissing)):
            raise
        if isinstance(e, policy_tasks.EvidenceMissing):
            raise Invalid(str(e), field=e.field) from None
        raise Conflict(str(e)) from None
    try:
        # Started before the commit: if Temporal is down, nothing is recorded and the dealer retries.
        await start_evidence_review(client=client, task_queue=settings.task_queue, review=review,
                                                  dealer_code=user.dealer.code)
        for path, stored in staged:
            store.keep(path, stored)
        await run_in_threadpool(session.commit)
    except BaseException:
        for path, _ in staged:
            store.discard(path)
        raise
    finally:
        await run_in_threadpool(session.close)

    def read():
        with sessions() as s:
            return assignment_read(s, visible_assignment(s, user, assignment_id), with_evidence=True)

    return await run_in_threadpool(read)


@router.get("/api/v1/evidence/{evidence_id}", response_class=FileResponse, responses={200: {
    "description": "the file as it was uploaded", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
def evidence_file(evidence_id: Annotated[int, Path(ge=1, le=BIGINT)], session: SessionDep, user: CurrentUser, request: Request):
    """The stored file, for the dealer who sent it, HQ, admins and the task's reviewer role."""
    e = session.get(Evidence, evidence_id)
    if e is None or e.sha256 is None:
        raise NotFound("evidence not found")
    a = visible_assignment(session, user, str(e.assignment_id))  # out of the caller's scope: 404
    if user.role not in ("dealer", "hq", "admin"):
        task = policy_tasks.task_of(session, a)
        if task is None or task.reviewer != user.role:
            raise NotFound("evidence not found")
    path = EvidenceStore(request.app.state.settings.evidence_path).path(e.sha256)
    # Never the sender's file name (`evil.exe`): a name of ours with the extension of the detected type.
    name = download_name(f"{a.task_key}-{e.kind}-{e.id}", e.content_type)
    return FileResponse(path, media_type=e.content_type or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff"})


@router.get("/api/v1/points", response_model=PointsRead)
def my_points(session: SessionDep, user: DealerUser):
    return policy_tasks.points(session, user.dealer_id)
