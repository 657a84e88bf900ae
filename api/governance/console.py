"""Console pages of rule governance: proposals (diff, tests, impact, comments, the second person's
answer), the what-if replay of a candidate file and its report, the shadow dashboard and each
ruleset's version timeline. Admins see every kind; HQ the policy files. Every change goes through the
services the JSON API uses (dealerflow/governance/)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from dealerflow.contracts import TaskResult
from dealerflow.core.errors import DomainError, Forbidden, Invalid
from dealerflow.governance import audit, impact, proposals, reports, shadow, versions
from dealerflow.governance.replay import Window
from dealerflow.models import RuleVersion
from dealerflow.shared.accounts import CHINA
from policies_dsl import RuleFileError

from api import highlight
from api.admin.rules import deploy_kinds, may_deploy, sync_schedules
from api.deps import SessionDep
from api.governance.temporal import answer_task, end_task, start_proposal
from api.pages import ConsoleUser, back, page, refusal, require, translator

router = APIRouter(prefix="/console/rules", include_in_schema=False)
READERS = ("admin", "hq")
Text = Annotated[str, Form()]


def _visible(user, kind: str) -> bool:
    return user.role == "admin" or kind == "policy"


def _when(text: str, field: str) -> datetime | None:
    """A form's date-time (Beijing time, as the browser's datetime-local sends it)."""
    if not text.strip():
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"{text!r} is not a date and time like 2026-12-01T08:00", field=field) from None
    return at.replace(tzinfo=CHINA) if at.tzinfo is None else at


# --- proposals -----------------------------------------------------------------------------------

@router.get("/proposals")
def proposals_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    rows = [p for p in proposals.listing(session) if _visible(user, p.kind)]
    return page(request, "rule_proposals.html", user, proposals=rows)


def _proposal_context(session, proposal) -> dict:
    report = reports.get(session, proposal.report_id) if proposal.report_id else None
    base = session.scalar(select(RuleVersion.source).where(RuleVersion.ruleset == proposal.ruleset,
                                                           RuleVersion.version == proposal.base_version)) \
        if proposal.base_version else None
    return {"proposal": proposal, "report": report, "rows": highlight.diff(base or "", proposal.source),
            "trail": audit.trail(session, proposal_id=proposal.id), "comments": proposals.comments(session, proposal.id)}


@router.get("/proposals/{proposal_id}")
def proposal_page(proposal_id: uuid.UUID, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    proposal = proposals.get(session, proposal_id)
    if not _visible(user, proposal.kind):
        raise Forbidden("only an admin reads a proposal of this kind")
    return page(request, "rule_proposal.html", user, **_proposal_context(session, proposal),
                may_decide=proposal.status == "open" and proposals.may_approve(user, proposal)
                and user.username != proposal.proposed_by,
                may_withdraw=proposal.status == "open" and user.username == proposal.proposed_by)


@router.post("/propose")
async def propose(request: Request, user: ConsoleUser, text: Text = "", filename: Text = "", comment: Text = "",
                  effective_from: Text = "", effective_until: Text = "", mode: Text = "active"):
    """The check page's Propose: the proposal with its tests and replay, then its second person's task."""
    require(user, *READERS)
    sessions = request.app.state.sessions
    text = text.replace("\r\n", "\n")

    def create():
        with sessions() as session:
            proposal = proposals.propose(session, filename=filename, text=text, actor=user.username,
                                         kinds=deploy_kinds(user), mode="shadow" if mode == "shadow" else "active",
                                         effective_from=_when(effective_from, "effective_from"),
                                         effective_until=_when(effective_until, "effective_until"), comment=comment[:2000])
            spec = proposals.review_spec(session, proposal)
            session.commit()
            return proposal.id, proposal.workflow_id, spec

    try:
        proposal_id, workflow_id, spec = await run_in_threadpool(create)
    except (DomainError, RuleFileError) as e:
        message, _ = refusal(e, request)
        return back("/console/rules", flash=message, kind="error")
    await start_proposal(client=request.app.state.temporal, task_queue=request.app.state.settings.task_queue,
                         workflow_id=workflow_id, proposal_id=str(proposal_id), review=spec, sessions=sessions)
    _ = translator(request)
    return back(f"/console/rules/proposals/{proposal_id}", flash=_("Proposed: a second person approves it."))


@router.post("/proposals/{proposal_id}/decide")
async def decide(proposal_id: uuid.UUID, request: Request, user: ConsoleUser, outcome: Text = "", comment: Text = ""):
    require(user, *READERS)
    sessions = request.app.state.sessions
    here = f"/console/rules/proposals/{proposal_id}"

    def check():
        with sessions() as session:
            proposal = proposals.get(session, proposal_id)
            proposals.check_decision(session, proposal, user, outcome, comment)
            return str(proposal.task_id)

    try:
        task_id = await run_in_threadpool(check)
        await answer_task(client=request.app.state.temporal, task_id=task_id, outcome=outcome, actor=user.username,
                          comment=comment)
    except DomainError as e:
        message, _ = refusal(e, request)
        return back(here, flash=message, kind="error")

    def apply():
        with sessions.begin() as session:
            proposals.apply_answer(session, str(proposal_id), TaskResult(task_id, outcome, user.username, comment))
        with sessions() as session:
            p = proposals.get(session, proposal_id)
            return p.status, p.kind, p.ruleset

    status, kind, ruleset = await run_in_threadpool(apply)
    if status == "approved":
        sync_schedules(request.app.state, kind, ruleset)
    _ = translator(request)
    return back(here, flash={"approved": _("Approved: the new version is deployed."), "rejected": _("Rejected."),
                             "stale": _("Stale: another version went live first.")}.get(status, status))


@router.post("/proposals/{proposal_id}/comment")
def comment(proposal_id: uuid.UUID, request: Request, session: SessionDep, user: ConsoleUser, body: Text = ""):
    require(user, *READERS)
    here = f"/console/rules/proposals/{proposal_id}"
    try:
        proposals.comment(session, proposals.get(session, proposal_id), user=user, body=body)
        session.commit()
    except DomainError as e:
        session.rollback()
        message, _ = refusal(e, request)
        return back(here, flash=message, kind="error")
    _ = translator(request)
    return back(here, flash=_("Comment added."))


@router.post("/proposals/{proposal_id}/withdraw")
async def withdraw(proposal_id: uuid.UUID, request: Request, user: ConsoleUser, reason: Text = ""):
    """The proposer withdraws an open proposal: its approval task ends, with why."""
    require(user, *READERS)
    sessions = request.app.state.sessions
    here = f"/console/rules/proposals/{proposal_id}"

    def save():
        with sessions.begin() as session:
            proposal = proposals.withdraw(session, proposal_id, user=user, reason=reason)
            return str(proposal.task_id) if proposal.task_id else None

    try:
        task_id = await run_in_threadpool(save)
    except DomainError as e:
        message, _ = refusal(e, request)
        return back(here, flash=message, kind="error")
    if task_id:
        await end_task(client=request.app.state.temporal, task_id=task_id)
    _ = translator(request)
    return back(here, flash=_("Withdrawn: nobody needs to approve it now."))


# --- replay ----------------------------------------------------------------------------------------

@router.get("/replay")
def replay_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    return page(request, "rule_replay.html", user, form={}, errors={},
                recent=[r for r in reports.latest(session) if _visible(user, r.kind)])


@router.post("/replay")
def run_replay(request: Request, session: SessionDep, user: ConsoleUser, text: Text = "", filename: Text = "",
               since: Text = "", until: Text = ""):
    require(user, *READERS)
    form = {"text": text, "filename": filename, "since": since, "until": until}
    try:
        from datetime import date

        def day(value: str, field: str):
            try:
                return date.fromisoformat(value) if value.strip() else None
            except ValueError:
                raise Invalid(f"{value!r} is not a date like 2026-07-01", field=field) from None

        from policies_dsl import load_rule_file
        text = text.replace("\r\n", "\n")
        rule_file = load_rule_file(filename or "rules/candidate.yaml", text)
        if not may_deploy(session, user, rule_file.name, rule_file.kind):
            raise Forbidden(f"ruleset '{rule_file.name}' is a {rule_file.kind} ruleset, which only an admin replays")
        report = impact.replay(session, filename=filename, text=text, actor=user.username,
                               window=Window.of_days(day(since, "since"), day(until, "until")))
        session.commit()
    except (DomainError, RuleFileError) as e:
        session.rollback()
        message, status = refusal(e, request)
        errors = {x["field"]: x["message"] for x in getattr(e, "errors", []) if isinstance(x, dict) and x.get("field")}
        return page(request, "rule_replay.html", user, status, error=message, form=form, errors=errors,
                    recent=[r for r in reports.latest(session) if _visible(user, r.kind)])
    return back(f"/console/rules/replays/{report.id}")


@router.get("/replays/{report_id}")
def report_page(report_id: uuid.UUID, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    report = reports.get(session, report_id)
    if not _visible(user, report.kind):
        raise Forbidden("only an admin reads the replay of this kind of rule file")
    return page(request, "rule_report.html", user, report=report)


# --- shadow and timeline ---------------------------------------------------------------------------

@router.get("/shadow")
def shadow_page(request: Request, session: SessionDep, user: ConsoleUser,
                ruleset: Annotated[str, Query(max_length=64)] = "credit_approval"):
    require(user, "admin")
    return page(request, "rule_shadow.html", user, board=shadow.dashboard(session, ruleset))


@router.get("/timeline/{ruleset}")
def timeline_page(ruleset: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    entries = versions.timeline(session, ruleset)
    if not _visible(user, entries[0].version.kind):
        raise Forbidden("only an admin reads this ruleset's versions")
    return page(request, "rule_timeline.html", user, ruleset=ruleset, entries=entries,
                proposals=[p for p in proposals.listing(session) if p.ruleset == ruleset][:20])
