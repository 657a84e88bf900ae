"""Rule governance API: what-if replay of a candidate rule file over stored decisions, and its stored
reports (JSON, CSV or XLSX). The services are dealerflow/governance/."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from dealerflow.contracts import TaskResult
from dealerflow.core.errors import Forbidden
from dealerflow.governance import audit, impact, proposals, reports, shadow, versions
from dealerflow.shared.accounts import CHINA
from dealerflow.governance.replay import DEFAULT_SAMPLES, MAX_SAMPLES, Window
from dealerflow.models import User
from dealerflow.shared import exports
from policies_dsl import load_rule_file

from api.admin.rules import Filename, YamlBody, deploy_kinds, may_deploy, sync_schedules
from api.deps import SessionDep, TemporalDep, require_role
from api.errors import responses
from api.governance.schemas import (AuditRead, CommentCreate, CommentRead, Deployed, ProposalDecision, ProposalRead,
                                    ProposalWithdrawal, ReplayReportRead, ShadowDashboard, VersionRead)
from api.governance.temporal import answer_task, end_task, start_proposal

router = APIRouter(prefix="/api/v1/rules", tags=["rule governance"])
RuleAdmin = Annotated[User, require_role("admin", "hq")]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json (default), csv or xlsx")]
FILES = {200: {"content": {exports.MEDIA_TYPE: {}, exports.XLSX_TYPE: {}},
               "description": "the report; with ?format=csv or xlsx, as a spreadsheet"}}


def check_rights(session, user: User, filename: str, text: str) -> None:
    """Who may deploy a ruleset may replay a candidate of it (admins every kind, HQ policy files)."""
    rule_file = load_rule_file(filename, text)
    if not may_deploy(session, user, rule_file.name, rule_file.kind):
        raise Forbidden(f"ruleset '{rule_file.name}' is a {rule_file.kind} ruleset, which only an admin replays")


@router.post("/replay", response_model=ReplayReportRead, status_code=201, responses=responses(403, 409, 422))
def replay(text: YamlBody, filename: Filename, session: SessionDep, user: RuleAdmin,
           since: Annotated[date | None, Query(description="first business day (Beijing time), e.g. 2026-07-01")] = None,
           until: Annotated[date | None, Query(description="last business day, included")] = None,
           samples: Annotated[int, Query(ge=0, le=MAX_SAMPLES)] = DEFAULT_SAMPLES):
    """Evaluate a candidate rule file over the stored inputs of past decisions of its kind and compare
    with what was decided; the report is stored (id, content hash) and returned. An invalid file (file:line
    path: message), a file of another kind than its ruleset, or a window without decisions stores nothing."""
    check_rights(session, user, filename, text)
    report = impact.replay(session, filename=filename, text=text, window=Window.of_days(since, until),
                           actor=user.username, samples=samples)
    session.commit()
    return ReplayReportRead.model_validate(report, from_attributes=True)


@router.get("/replays/{report_id}", response_model=ReplayReportRead, responses={**FILES, **responses(403, 404)})
def get_replay(report_id: uuid.UUID, session: SessionDep, user: RuleAdmin, format: Format = "json"):
    report = reports.get(session, report_id)
    if user.role != "admin" and report.kind != "policy":
        raise Forbidden("only an admin reads the replay of this kind of rule file")
    if format == "json":
        return ReplayReportRead.model_validate(report, from_attributes=True)
    rows = reports.rows(report)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", f"replay-{report.ruleset}-{report.id.hex[:8]}")
    if format == "csv":
        body, media = exports.table_csv(reports.COLUMNS, rows), exports.MEDIA_TYPE
    else:
        body, media = exports.table_xlsx(reports.COLUMNS, rows, title="replay"), exports.XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{format}"'})


# --- proposals (four eyes) ---------------------------------------------------------------------------

def _proposal_read(session, proposal) -> ProposalRead:
    return ProposalRead.model_validate({
        **{c: getattr(proposal, c) for c in ProposalRead.model_fields if c not in ("diff", "comments")},
        "diff": proposals.diff(session, proposal),
        "comments": [CommentRead.model_validate(c, from_attributes=True)
                     for c in proposals.comments(session, proposal.id)]})


@router.post("/proposals", response_model=ProposalRead, status_code=201, responses=responses(403, 409, 422, 503))
async def propose(text: YamlBody, filename: Filename, request: Request, user: RuleAdmin, client: TemporalDep,
                  effective_from: Annotated[datetime | None, Query(description="when it takes effect (default: on approval)")] = None,
                  effective_until: Annotated[datetime | None, Query(description="when it stops applying")] = None,
                  mode: Annotated[Literal["active", "shadow"], Query()] = "active",
                  comment: Annotated[str, Query(max_length=2000)] = ""):
    """Propose a rule file: validated, its tests run and a replay over the last 90 days reported; a
    second person (an admin; HQ or an admin for policy files; never the proposer) approves it in a task.
    Saved while the workflow service is unreachable, the proposal is kept and its task opens from the
    proposal sweep once it is back."""
    def create():
        with request.app.state.sessions() as session:
            proposal = proposals.propose(session, filename=filename, text=text, actor=user.username,
                                         kinds=deploy_kinds(user), mode=mode, effective_from=_utc(effective_from),
                                         effective_until=_utc(effective_until), comment=comment)
            spec = proposals.review_spec(session, proposal)
            session.commit()
            return _proposal_read(session, proposal), spec, proposal.workflow_id

    read, spec, workflow_id = await run_in_threadpool(create)
    await start_proposal(client=client, task_queue=request.app.state.settings.task_queue, workflow_id=workflow_id,
                         proposal_id=str(read.id), review=spec, sessions=request.app.state.sessions)
    return read


def _utc(at: datetime | None) -> datetime | None:
    """A time without a zone is Beijing time, as people write it."""
    return at.replace(tzinfo=CHINA) if at is not None and at.tzinfo is None else at


@router.get("/proposals", response_model=list[ProposalRead])
def list_proposals(session: SessionDep, _: RuleAdmin,
                   status: Annotated[Literal["open", "approved", "rejected", "withdrawn", "stale"] | None, Query()] = None):
    return [_proposal_read(session, p) for p in proposals.listing(session, status)]


@router.get("/proposals/{proposal_id}", response_model=ProposalRead, responses=responses(404))
def get_proposal(proposal_id: uuid.UUID, session: SessionDep, _: RuleAdmin):
    return _proposal_read(session, proposals.get(session, proposal_id))


@router.post("/proposals/{proposal_id}/comments", response_model=CommentRead, status_code=201,
             responses=responses(403, 404, 422))
def comment_on_proposal(proposal_id: uuid.UUID, body: CommentCreate, session: SessionDep, user: RuleAdmin):
    """Comment on a proposal (admins, the approvers of its kind, its proposer): stored, shown with the
    proposal and on its audit trail."""
    row = proposals.comment(session, proposals.get(session, proposal_id), user=user, body=body.body)
    read = CommentRead.model_validate(row, from_attributes=True)
    session.commit()
    return read


@router.post("/proposals/{proposal_id}/withdraw", response_model=ProposalRead, responses=responses(403, 404, 409, 422))
async def withdraw(proposal_id: uuid.UUID, body: ProposalWithdrawal, request: Request, user: RuleAdmin,
                   client: TemporalDep):
    """The proposer withdraws an open proposal, saying why: its approval task ends and nothing is
    deployed. Someone else is refused (403); an answered proposal is a 409."""
    sessions = request.app.state.sessions

    def save():
        with sessions.begin() as session:
            proposal = proposals.withdraw(session, proposal_id, user=user, reason=body.reason)
            task_id = str(proposal.task_id) if proposal.task_id else None
        with sessions() as session:
            return _proposal_read(session, proposals.get(session, proposal_id)), task_id

    read, task_id = await run_in_threadpool(save)
    if task_id:
        await end_task(client=client, task_id=task_id)
    return read


@router.post("/proposals/{proposal_id}/decide", response_model=ProposalRead, responses=responses(403, 404, 409, 422, 503))
async def decide(proposal_id: uuid.UUID, body: ProposalDecision, request: Request, user: RuleAdmin, client: TemporalDep):
    """Approve (activates exactly the proposed content at its effective date) or reject (say why). The
    proposer cannot answer (403); an approval after another version went live is stale (409)."""
    sessions = request.app.state.sessions

    def check():
        with sessions() as session:
            proposal = proposals.get(session, proposal_id)
            proposals.check_decision(session, proposal, user, body.outcome, body.comment)
            return str(proposal.task_id)

    task_id = await run_in_threadpool(check)
    await answer_task(client=client, task_id=task_id, outcome=body.outcome, actor=user.username, comment=body.comment)

    def apply():
        with sessions.begin() as session:
            proposals.apply_answer(session, str(proposal_id), TaskResult(task_id, body.outcome, user.username, body.comment))
        with sessions() as session:
            return _proposal_read(session, proposals.get(session, proposal_id))

    read = await run_in_threadpool(apply)
    if read.status == "approved":
        sync_schedules(request.app.state, read.kind, read.ruleset)
    return read


@router.post("/emergency-deploy", response_model=Deployed, status_code=201, responses=responses(403, 409, 422))
def emergency_deploy(text: YamlBody, filename: Filename, session: SessionDep, user: RuleAdmin,
                     reason: Annotated[str, Query(min_length=1, max_length=2000, description="why this cannot wait")]):
    """Deploy alone, only where the file's kind names the caller's role for emergencies; audited loudly."""
    deployed = proposals.emergency(session, filename=filename, text=text, user=user, reason=reason)
    session.commit()
    return Deployed(ruleset=deployed.ruleset, version=deployed.version, changed=deployed.changed, sha256=deployed.sha256)


# --- versions, shadows, audit ------------------------------------------------------------------------

@router.get("/versions/{ruleset}", response_model=list[VersionRead], responses=responses(404))
def timeline(ruleset: str, session: SessionDep, _: RuleAdmin):
    """Every version of a ruleset, newest first: current, scheduled, past, shadow (running or ended)."""
    return [VersionRead.model_validate({**{c: getattr(e.version, c) for c in VersionRead.model_fields if c != "state"},
                                        "state": e.state}) for e in versions.timeline(session, ruleset)]


@router.get("/shadow", response_model=ShadowDashboard)
def shadow_dashboard(session: SessionDep, _: RuleAdmin,
                     ruleset: Annotated[str, Query(max_length=64)] = "credit_approval",
                     limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """Shadow versions of a ruleset: running totals of agreement and the latest disagreements."""
    return shadow.dashboard(session, ruleset, limit)


@router.post("/shadow", response_model=Deployed, status_code=201, responses=responses(403, 409, 422))
def start_shadow(text: YamlBody, filename: Filename, session: SessionDep, user: Annotated[User, require_role("admin")]):
    """Run a candidate in shadow: evaluated beside the active version on every live decision of its
    kind, its outcome stored with the decision and never acted on."""
    deployed = shadow.start(session, filename=filename, text=text, actor=user.username)
    session.commit()
    return Deployed(ruleset=deployed.ruleset, version=deployed.version, changed=deployed.changed, sha256=deployed.sha256)


@router.post("/shadow/{ruleset}/{version}/end", status_code=204, responses=responses(403, 404))
def end_shadow(ruleset: str, version: Annotated[int, Path(ge=1, le=2_000_000_000)], session: SessionDep,
               user: Annotated[User, require_role("admin")]):
    """End a shadow version; its record stays."""
    shadow.end(session, ruleset=ruleset, version=version, actor=user.username)
    session.commit()
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditRead])
def audit_trail(session: SessionDep, _: RuleAdmin, ruleset: Annotated[str | None, Query(max_length=64)] = None):
    return [AuditRead.model_validate(a, from_attributes=True) for a in audit.trail(session, ruleset)]
