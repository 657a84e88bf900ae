"""Four eyes on rule files: deploying becomes a proposal. Proposing validates the file, runs its own
tests and replays it over a default window (the impact report); a second person — an admin, or HQ
for policy files, never the proposer — approves exactly that content (its sha256) or rejects it with
why. Approval activates the stored source at its effective date unless another version went live
since it was proposed (stale: 409, nothing activated). A kind whose plugin names emergency roles may
be deployed alone by them, audited loudly. Every step is audited (dealerflow/governance/audit.py).

Admins (HQ on policy files) and the proposer comment on a proposal; the proposer may withdraw it
while it is open, which ends its task. The human task is opened by the proposal's workflow
(workflows/rule_proposal.py), started after the commit; an outbox row written with the proposal lets
the proposal sweep start it when that start was lost (Temporal unreachable). `decide` is the
API's and console's path (checked here, synchronously), `apply_answer` the workflow's (a task
completed from the inbox): both apply an answer once."""
from __future__ import annotations

import difflib
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dealerflow.contracts import TaskResult, TaskSpec
from dealerflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from dealerflow.governance import audit, reports
from dealerflow.governance.replay import REPLAYERS, EmptyWindow, Window, evaluate
from dealerflow.governance.shadow import SHADOWED_KINDS
from dealerflow.tiering.runs import RULESET as TIERING_RULESET
from dealerflow.models import PendingProposalStart, RuleProposal, RuleProposalComment, RuleVersion, User
from dealerflow.shared import accounts, human_tasks, rulebook
from policies_dsl import load_rule_file, run_rule_tests
from policies_dsl.kinds import kind as kind_plugin

TASK_NAMESPACE = uuid.UUID("9a1f2c3e-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
DEFAULT_WINDOW_DAYS = 90
REVIEW_SLA = 3 * 24 * 3600
HQ_KINDS = ("policy",)


def approver_role(kind: str) -> str:
    return "hq" if kind in HQ_KINDS else "admin"


def may_approve(user: User, proposal: RuleProposal) -> bool:
    """An admin approves every kind; HQ approves policy files."""
    return user.role == "admin" or user.role == proposal.approver_role


def default_window(today: date) -> Window:
    return Window.of_days(today - timedelta(days=DEFAULT_WINDOW_DAYS - 1), today)


def _tests(rule_file) -> list[dict]:
    return [{"name": r.name, "line": r.line, "passed": r.passed, "message": r.message} for r in run_rule_tests(rule_file)]


def propose(session: Session, *, filename: str, text: str, actor: str, kinds=None, mode: str = "active",
            effective_from: datetime | None = None, effective_until: datetime | None = None,
            comment: str = "", now: datetime | None = None) -> RuleProposal:
    """Check the file as a deploy would, run its tests (a failing one refuses it), replay it over the
    last DEFAULT_WINDOW_DAYS days and store the proposal with its report (the caller commits and
    starts its workflow). A file identical to the active version is refused: nothing to approve."""
    now = now or datetime.now(timezone.utc)
    rule_file = load_rule_file(filename, text)
    rulebook.check_name(filename, rule_file)
    if not rulebook.may_deploy(session, rule_file.name, rule_file.kind, kinds):
        raise Forbidden(f"ruleset '{rule_file.name}' is a {rule_file.kind} ruleset, which only an admin proposes")
    if rule_file.kind == "tiering" and rule_file.name != TIERING_RULESET:  # the one scorecard runs read
        raise Invalid(f"the tiering file is ruleset '{TIERING_RULESET}'", field="ruleset")
    if mode == "shadow" and rule_file.kind not in SHADOWED_KINDS:
        raise Invalid(f"files of kind {rule_file.kind} cannot run in shadow yet (kinds: {', '.join(SHADOWED_KINDS)})",
                      field="mode")
    stored = rulebook.stored_kind(session, rule_file.name)
    if stored is not None and stored != rule_file.kind:
        raise Conflict(f"ruleset '{rule_file.name}' is of kind {stored}; this file is of kind {rule_file.kind}")
    if effective_from is not None and effective_until is not None and effective_until <= effective_from:
        raise Invalid("effective_until comes after effective_from", field="effective_until")
    if effective_until is not None and effective_until <= now:
        raise Invalid("effective_until has passed: a version that has stopped applying has nothing to approve",
                      field="effective_until")
    tests = _tests(rule_file)
    failed = [t for t in tests if not t["passed"]]
    if failed:
        raise Invalid.listing([{"file": filename, "line": t["line"], "path": "tests", "message": t["message"],
                                "text": f"{filename}:{t['line']} tests: {t['name']}: {t['message']}"} for t in failed])
    active = rulebook.active_version(session, rule_file.name)
    if (active is not None and active.sha256 == rule_file.sha256 and mode == "active"
            and effective_from is None and effective_until is None):
        raise Conflict(f"this file is {rule_file.name} v{active.version} as deployed: nothing to propose")
    open_one = session.scalar(select(RuleProposal.id).where(RuleProposal.ruleset == rule_file.name,
                                                             RuleProposal.sha256 == rule_file.sha256,
                                                             RuleProposal.status == "open"))
    if open_one is not None:
        raise Conflict(f"this file is already proposed ({open_one}) and waits for approval")
    report = None
    if rule_file.kind in REPLAYERS:
        window = default_window(accounts.business_date(now))
        try:
            report = reports.store(session, rule_file, window, evaluate(session, rule_file, window), actor=actor)
        except EmptyWindow:
            report = None  # nothing decided in the window: the approver sees that no impact could be measured
    proposal = RuleProposal(
        id=uuid.uuid4(), ruleset=rule_file.name, kind=rule_file.kind, filename=filename, source=text,
        sha256=rule_file.sha256, base_version=active.version if active else None, mode=mode,
        effective_from=effective_from, effective_until=effective_until, tests=tests,
        report_id=report.id if report else None, status="open", approver_role=approver_role(rule_file.kind),
        proposed_by=actor, comment=comment)
    proposal.task_id = uuid.uuid5(TASK_NAMESPACE, str(proposal.id))
    from dealerflow.contracts.governance import workflow_id_for
    proposal.workflow_id = workflow_id_for(str(proposal.id))
    session.add(proposal)
    session.flush()
    session.add(PendingProposalStart(proposal_id=proposal.id))  # the sweep opens its task should the start fail
    audit.record(session, ruleset=rule_file.name, action="proposed", actor=actor, proposal_id=proposal.id,
                 sha256=rule_file.sha256, note=comment)
    return proposal


def diff(session: Session, proposal: RuleProposal) -> list[str]:
    """The unified diff from the version active when proposed to the proposed file."""
    base = session.scalar(select(RuleVersion.source).where(RuleVersion.ruleset == proposal.ruleset,
                                                           RuleVersion.version == proposal.base_version)) \
        if proposal.base_version else ""
    return list(difflib.unified_diff((base or "").splitlines(), proposal.source.splitlines(),
                                     f"{proposal.ruleset} v{proposal.base_version or 0}", "proposed", lineterm=""))


def review_spec(session: Session, proposal: RuleProposal) -> TaskSpec:
    """The second person's task: approve or reject, with the diff, the tests and the impact in it."""
    report = reports.get(session, proposal.report_id) if proposal.report_id else None
    return TaskSpec(
        task_id=str(proposal.task_id), kind="rule_proposal",
        title=f"Approve rule change: {proposal.ruleset}" + (" (shadow)" if proposal.mode == "shadow" else ""),
        subject_type="rule_proposal", subject_id=str(proposal.id), assignee_role=proposal.approver_role,
        outcomes=["approve", "reject"], sla_seconds=REVIEW_SLA, escalate_to=None, not_by=[proposal.proposed_by],
        payload={"ruleset": proposal.ruleset, "kind": proposal.kind, "sha256": proposal.sha256,
                 "proposed_by": proposal.proposed_by, "not_by": [proposal.proposed_by],
                 "base_version": proposal.base_version,
                 "effective_from": proposal.effective_from.isoformat() if proposal.effective_from else None,
                 "tests": f"{sum(t['passed'] for t in proposal.tests)} of {len(proposal.tests)} pass",
                 "impact": ({k: v for k, v in report.totals.items() if not isinstance(v, dict)} if report else None),
                 "report_hash": report.content_hash if report else None,
                 "diff": "\n".join(diff(session, proposal)[:200]), "link": f"/console/rules/proposals/{proposal.id}"})


def get(session: Session, proposal_id: uuid.UUID, *, lock: bool = False) -> RuleProposal:
    q = select(RuleProposal).where(RuleProposal.id == proposal_id)
    # Locked: read afresh, never the copy this session may hold from before the lock.
    q = q.with_for_update().execution_options(populate_existing=True) if lock else q
    proposal = session.scalars(q).first()
    if proposal is None:
        raise NotFound(f"rule proposal {proposal_id} not found")
    return proposal


def listing(session: Session, status: str | None = None, limit: int = 100) -> list[RuleProposal]:
    q = select(RuleProposal)
    if status:
        q = q.where(RuleProposal.status == status)
    return list(session.scalars(q.order_by(RuleProposal.proposed_at.desc()).limit(limit)))


def _stale(session: Session, proposal: RuleProposal) -> bool:
    active = rulebook.active_version(session, proposal.ruleset)
    return (active.version if active else None) != proposal.base_version


def check_decision(session: Session, proposal: RuleProposal, user: User, outcome: str, comment: str = "") -> None:
    """Refusals, before anything is written: the proposer (403), a role that does not approve this kind
    (403), an answered proposal (409), and an approval after another version went live (409)."""
    if outcome not in ("approve", "reject"):
        raise Invalid("outcome must be approve or reject", field="outcome")
    if user.username == proposal.proposed_by:
        raise Forbidden("you proposed this change: a second person must approve or reject it (four eyes)")
    if not may_approve(user, proposal):
        raise Forbidden(f"a {proposal.kind} rule change is approved by role {proposal.approver_role}")
    if proposal.status != "open":
        raise Conflict(f"this proposal is already {proposal.status}")
    if outcome == "approve" and _stale(session, proposal):
        active = rulebook.active_version(session, proposal.ruleset)
        raise Conflict(f"stale: {proposal.ruleset} v{active.version if active else '?'} went live after this was "
                       f"proposed over v{proposal.base_version}; propose the change again over the live version")
    if outcome == "reject" and not comment.strip():
        raise Invalid("say why the change is rejected", field="comment")


def apply_answer(session: Session, proposal_id: str, result: TaskResult) -> str:
    """The workflow's side: the answer given in the human task, applied once (an answer already
    applied through `decide` is not applied again). An approval that has gone stale is not activated."""
    proposal = get(session, uuid.UUID(proposal_id), lock=True)
    if proposal.status != "open":
        return proposal.status
    if result.actor == proposal.proposed_by:  # the task refuses this; never activate on it
        return proposal.status
    if result.outcome == "approve" and _stale(session, proposal):
        proposal.status, proposal.decided_by, proposal.decided_at = "stale", result.actor, datetime.now(timezone.utc)
        audit.record(session, ruleset=proposal.ruleset, action="stale", actor=result.actor, proposal_id=proposal.id,
                     note="another version went live before the approval")
        return proposal.status
    _apply(session, proposal, result.outcome, result.actor, result.comment)
    return proposal.status


def _apply(session: Session, proposal: RuleProposal, outcome: str, actor: str, comment: str) -> None:
    proposal.decided_by, proposal.decided_at, proposal.decision_comment = actor, datetime.now(timezone.utc), comment
    if outcome == "reject":
        proposal.status = "rejected"
        audit.record(session, ruleset=proposal.ruleset, action="rejected", actor=actor, proposal_id=proposal.id,
                     sha256=proposal.sha256, note=comment)
        return
    deployed = rulebook.deploy(session, filename=proposal.filename, text=proposal.source, actor=actor,
                               effective_from=proposal.effective_from, effective_until=proposal.effective_until,
                               mode=proposal.mode, proposal_id=proposal.id)
    if deployed.sha256 != proposal.sha256:  # the stored source is the approved content, byte for byte
        raise Conflict("the proposal's content changed; nothing activated")
    proposal.status, proposal.version = "approved", deployed.version
    audit.record(session, ruleset=proposal.ruleset, action="approved", actor=actor, proposal_id=proposal.id,
                 version=deployed.version, sha256=deployed.sha256,
                 note=(comment + " " if comment else "") + f"proposed by {proposal.proposed_by}")


def emergency(session: Session, *, filename: str, text: str, user: User, reason: str) -> rulebook.Deployed:
    """Deploy alone, when the kind's plugin names the user's role among its emergency roles; audited
    loudly (the audit trail and a warning in the log). Tests must pass as for any deploy."""
    rule_file = load_rule_file(filename, text)
    if user.role not in kind_plugin(rule_file.kind).emergency_roles:
        raise Forbidden(f"a {rule_file.kind} rule file has no emergency path for role {user.role}: propose it")
    if not reason.strip():
        raise Invalid("say why this cannot wait for a second person", field="reason")
    failed = [t for t in _tests(rule_file) if not t["passed"]]
    if failed:
        raise Invalid.listing([{"file": filename, "line": t["line"], "path": "tests", "message": t["message"]}
                               for t in failed])
    deployed = rulebook.deploy(session, filename=filename, text=text, actor=user.username)
    audit.record(session, ruleset=deployed.ruleset, action="emergency", actor=user.username, version=deployed.version,
                 sha256=deployed.sha256, note=reason)
    return deployed


# --- the comment thread and withdrawal ---------------------------------------------------------------

MAX_COMMENT = 2000


def may_read(user: User, proposal: RuleProposal) -> bool:
    """Admins read every proposal; HQ those of policy files (the kinds it approves)."""
    return user.role == "admin" or (user.role == "hq" and proposal.approver_role == "hq")


def comment(session: Session, proposal: RuleProposal, *, user: User, body: str) -> RuleProposalComment:
    """A comment by an admin, an approver of this kind or the proposer, stored and audited. An answered
    proposal keeps its thread (people explain afterwards) but an empty one is refused."""
    text = body.strip()
    if not text:
        raise Invalid("write a comment", field="body")
    if len(text) > MAX_COMMENT:
        raise Invalid(f"a comment holds at most {MAX_COMMENT} characters", field="body")
    if not (may_read(user, proposal) or user.username == proposal.proposed_by):
        raise Forbidden("only an admin, the approvers of this kind of file or its proposer comment on it")
    row = RuleProposalComment(proposal_id=proposal.id, author=user.username, body=text)
    session.add(row)
    session.flush()
    audit.record(session, ruleset=proposal.ruleset, action="commented", actor=user.username,
                 proposal_id=proposal.id, note=text)
    return row


def comments(session: Session, proposal_id: uuid.UUID) -> list[RuleProposalComment]:
    return list(session.scalars(select(RuleProposalComment).where(RuleProposalComment.proposal_id == proposal_id)
                                .order_by(RuleProposalComment.id)))


def check_withdraw(proposal: RuleProposal, user: User, reason: str) -> None:
    """Only the proposer withdraws (403), only an open proposal (409), saying why (422)."""
    if user.username != proposal.proposed_by:
        raise Forbidden("only the person who proposed a change withdraws it")
    if proposal.status != "open":
        raise Conflict(f"this proposal is already {proposal.status}")
    if not reason.strip():
        raise Invalid("say why the proposal is withdrawn", field="reason")


def withdraw(session: Session, proposal_id: uuid.UUID, *, user: User, reason: str) -> RuleProposal:
    """Withdraw an open proposal (locked: an answer given meanwhile wins with a 409); the caller then
    ends its task (api/governance/temporal.py), whose workflow finds the proposal withdrawn."""
    proposal = get(session, proposal_id, lock=True)
    check_withdraw(proposal, user, reason)
    proposal.status, proposal.decided_by, proposal.decided_at = "withdrawn", user.username, datetime.now(timezone.utc)
    proposal.decision_comment = reason.strip()
    session.execute(delete(PendingProposalStart).where(PendingProposalStart.proposal_id == proposal.id))
    if proposal.task_id is not None:  # out of the approvers' inboxes now, with why; its workflow is ended after
        human_tasks.cancel(session, str(proposal.task_id), user.username, f"proposal withdrawn: {reason.strip()}")
    audit.record(session, ruleset=proposal.ruleset, action="withdrawn", actor=user.username, proposal_id=proposal.id,
                 sha256=proposal.sha256, note=reason.strip())
    return proposal


# --- the start outbox ------------------------------------------------------------------------------

def started(session: Session, proposal_ids: list[uuid.UUID]) -> None:
    """Their workflows run: the outbox lets go of them."""
    if proposal_ids:
        session.execute(delete(PendingProposalStart).where(PendingProposalStart.proposal_id.in_(proposal_ids)))


def unstarted(session: Session, *, queued_before: datetime, limit: int = 200) -> list[tuple[RuleProposal, TaskSpec]]:
    """Open proposals saved before `queued_before` whose workflow start was lost, with their task."""
    rows = session.scalars(select(RuleProposal).join(PendingProposalStart,
                                                     PendingProposalStart.proposal_id == RuleProposal.id)
                           .where(PendingProposalStart.queued_at < queued_before, RuleProposal.status == "open")
                           .order_by(PendingProposalStart.queued_at).limit(limit)).all()
    return [(p, review_spec(session, p)) for p in rows]
