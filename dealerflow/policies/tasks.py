"""Policy tasks a dealer must do: evidence submitted, reviewed by a person (a human task),
returned with a comment or accepted, and points written to the dealer's ledger exactly once."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from dealerflow.core.errors import Conflict, Invalid
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl.kinds.policy import PolicyTask

from dealerflow.contracts import EvidenceOutcomeInput, EvidenceReviewInput, TaskSpec
from dealerflow.shared.evidence import StoredFile
from dealerflow.models import Dealer, Evidence, Policy, PolicyAssignment, PointsEntry
from dealerflow.shared.notifications import notify
from dealerflow.policies.rollout import spec_of

SUBMITTABLE = ("assigned", "returned")


class AssignmentStateError(Conflict):
    """The assignment cannot take this action now (already submitted, accepted, cancelled...)."""


class EvidenceMissing(Invalid):
    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)
        self.field = field


def assignments_for(session: Session, dealer_id: int, *, policy_id: str | None = None, limit: int | None = None,
                    offset: int = 0) -> list[PolicyAssignment]:
    q = (select(PolicyAssignment).where(PolicyAssignment.dealer_id == dealer_id)
         .order_by(PolicyAssignment.status.in_(("accepted", "cancelled")), PolicyAssignment.due_at,
                   PolicyAssignment.id).limit(limit).offset(offset))
    if policy_id:
        q = q.where(PolicyAssignment.policy_id == policy_id)
    return list(session.scalars(q))


def assignment_count(session: Session, dealer_id: int) -> int:
    """How many policy tasks a dealer has, counted in SQL."""
    return session.scalar(select(func.count()).select_from(PolicyAssignment)
                          .where(PolicyAssignment.dealer_id == dealer_id)) or 0


def assignment_of(session: Session, assignment_id: uuid.UUID, dealer_ids) -> PolicyAssignment | None:
    """The assignment if it belongs to one of `dealer_ids` (None: any dealer, for staff)."""
    a = session.get(PolicyAssignment, assignment_id)
    if a is None or (dealer_ids is not None and a.dealer_id not in dealer_ids):
        return None
    return a


def task_of(session: Session, a: PolicyAssignment, specs: dict | None = None) -> PolicyTask | None:
    """The task an assignment follows, in the policy version being rolled out (None: amended away).
    `specs` memoizes policy versions across the rows of a list."""
    policy = session.get(Policy, a.policy_id)
    key = (policy.id, policy.version)
    if specs is None or key not in specs:
        spec = spec_of(session, *key)
        if specs is None:
            return spec.task(a.task_key)
        specs[key] = spec
    return specs[key].task(a.task_key)


def evidence_of(session: Session, assignment_id: uuid.UUID) -> list[Evidence]:
    return list(session.scalars(select(Evidence).where(Evidence.assignment_id == assignment_id)
                                .order_by(Evidence.attempt, Evidence.id)))


def submit(session: Session, *, assignment: PolicyAssignment, task: PolicyTask, files: list[StoredFile],
           figures: dict | None, note: str, actor: str, now: datetime) -> EvidenceReviewInput:
    """Record a submission and return the review to start. Every evidence type the task requires
    must be present; the assignment row is locked so two submissions cannot interleave."""
    session.refresh(assignment, with_for_update=True)
    policy = session.get(Policy, assignment.policy_id)
    if policy.status in ("withdrawn", "cancelled"):
        raise AssignmentStateError(f"policy {policy.id} was {policy.status}")
    if assignment.status not in SUBMITTABLE:
        raise AssignmentStateError(f"this task is {assignment.status}; only an assigned or returned task takes evidence")
    given = {f.kind for f in files} | ({"figures"} if figures else set())
    for kind in task.evidence:
        if kind not in given:
            raise EvidenceMissing(kind, f"this task needs a {kind}" + (" (figures as a JSON object)" if kind == "figures" else ""))
    extra = given - set(task.evidence)
    if extra:
        kind = sorted(extra)[0]
        raise EvidenceMissing(kind, f"this task does not take a {kind} (it takes {', '.join(task.evidence)})")
    attempt = assignment.submissions + 1
    for f in files:
        session.add(Evidence(assignment_id=assignment.id, attempt=attempt, kind=f.kind, filename=f.filename,
                             content_type=f.content_type, size=f.size, sha256=f.sha256, uploaded_by=actor, note=note))
    if figures:
        session.add(Evidence(assignment_id=assignment.id, attempt=attempt, kind="figures", figures=figures,
                             uploaded_by=actor, note=note))
    review_id = uuid.uuid4()
    assignment.status, assignment.submissions, assignment.review_task_id = "submitted", attempt, review_id
    dealer = session.get(Dealer, assignment.dealer_id)
    spec = TaskSpec(
        task_id=str(review_id), kind="evidence_review",
        title=f"Review evidence: {task.title} — {dealer.code} (attempt {attempt})",
        subject_type="policy", subject_id=assignment.policy_id, assignee_role=task.reviewer,
        outcomes=["accept", "return"], sla_seconds=task.review_sla_seconds, escalate_to="hq" if task.reviewer != "hq" else "admin",
        dealer_id=dealer.id,
        payload={"assignment_id": str(assignment.id), "attempt": attempt, "policy_id": assignment.policy_id,
                 "task_key": task.key, "dealer": dealer.code, "points": task.points})
    return EvidenceReviewInput(str(assignment.id), attempt, spec)


def review_workflow_id(assignment_id: str, attempt: int) -> str:
    return f"evidence-{assignment_id}-{attempt}"


def apply_review(session: Session, inp: EvidenceOutcomeInput) -> str:
    """Accept (points once, keyed by the assignment) or return with the reviewer's comment. A
    review of an older attempt, or of a cancelled assignment, changes nothing."""
    a = session.scalars(select(PolicyAssignment).where(
        PolicyAssignment.id == uuid.UUID(inp.assignment_id)).with_for_update()).one()
    if a.status != "submitted" or a.submissions != inp.attempt:
        return a.status
    policy = session.get(Policy, a.policy_id)
    task = task_of(session, a)
    if task is None:  # amended away since the submission: nothing to award
        a.status = "cancelled"
        return a.status
    link = "/console/policy-tasks"
    if inp.task.outcome == "accept":
        a.status, a.accepted_at, a.review_comment = "accepted", datetime.now(timezone.utc), inp.task.comment or None
        if task.points:
            session.execute(insert(PointsEntry).values(
                dealer_id=a.dealer_id, points=task.points, reason=f"{policy.title}: {task.title}",
                source_type="policy_assignment", source_id=str(a.id)).on_conflict_do_nothing(constraint="points_once"))
        notify(session, dealer_id=a.dealer_id, kind="task", title=f"Accepted: {task.title} (+{task.points} points)",
               link=link, dedup_key=f"assignment:{a.id}:accepted")
    else:
        a.status, a.review_comment = "returned", inp.task.comment
        notify(session, dealer_id=a.dealer_id, kind="task", title=f"Returned: {task.title}", body=inp.task.comment,
               link=link, dedup_key=f"assignment:{a.id}:returned:{inp.attempt}")
    return a.status


def points(session: Session, dealer_id: int, *, limit: int = 100) -> dict:
    balance = session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                             .where(PointsEntry.dealer_id == dealer_id))
    entries = session.scalars(select(PointsEntry).where(PointsEntry.dealer_id == dealer_id)
                              .order_by(PointsEntry.id.desc()).limit(limit))
    return {"balance": int(balance), "entries": [
        {"id": e.id, "points": e.points, "reason": e.reason, "source_type": e.source_type,
         "source_id": e.source_id, "at": e.created_at.isoformat()} for e in entries]}


def overdue_now(a: PolicyAssignment, now: datetime | None = None) -> bool:
    now = now or datetime.now(timezone.utc)
    return a.status in SUBMITTABLE and a.due_at <= now

