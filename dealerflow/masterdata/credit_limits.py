"""Credit limit raises above the threshold of the credit rule file (`limit_change_needs_approval_over`):
the raise is stored as pending and a credit manager — or finance, on escalation — other than the
requester approves or rejects it through the human-task workflow. Approval applies it (audited with
both people); rejection keeps the limit and records why. One pending raise per dealer."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealerflow.contracts import LimitChangeInput, LimitChangeOutcomeInput, TaskSpec, limit_change_workflow_id
from dealerflow.core.errors import Conflict, NotFound
from dealerflow.models import CreditLimitChange, Dealer, User
from dealerflow.shared import rulebook
from dealerflow.shared.notifications import notify

from . import audit

CREDIT_RULESET = "credit_approval"
DEFAULT_THRESHOLD = Decimal("200000.00")
REVIEW_SLA_SECONDS = 24 * 3600


def threshold(session: Session) -> Decimal:
    """The active credit rule file's threshold (its default when the file sets none or is not deployed)."""
    try:
        spec = rulebook.active(session, CREDIT_RULESET).rule_file.spec
    except rulebook.UnknownRuleset:
        return DEFAULT_THRESHOLD
    return getattr(spec, "limit_change_needs_approval_over", DEFAULT_THRESHOLD)


def needs_approval(old: Decimal, new: Decimal, over: Decimal) -> bool:
    """A raise to above the threshold; lowering a limit never waits."""
    return new > old and new > over


@dataclass(frozen=True)
class Pending:
    change_id: str
    old_limit: Decimal
    new_limit: Decimal
    requested_by: str
    start: LimitChangeInput  # what the caller starts the workflow with before it commits


def request(session: Session, *, dealer: Dealer, new_limit: Decimal, threshold: Decimal, actor: str) -> Pending:
    """Hold a raise for approval; a Conflict when the dealer already has one pending."""
    change_id = uuid.uuid4()
    try:
        with session.begin_nested():
            session.add(CreditLimitChange(
                id=change_id, dealer_id=dealer.id, old_limit=dealer.credit_limit, new_limit=new_limit,
                threshold=threshold, requested_by=actor, status="pending",
                workflow_id=limit_change_workflow_id(str(change_id))))
    except IntegrityError:
        raise Conflict(f"dealer {dealer.code} already has a credit limit raise waiting for approval",
                       field="credit_limit") from None
    requester = session.scalars(select(User.id).where(User.username == actor)).first()
    spec = TaskSpec(
        task_id=str(uuid.uuid4()), kind="credit_limit_change",
        title=f"Approve credit limit {dealer.code}: {dealer.credit_limit:.2f} → {new_limit:.2f}",
        subject_type="dealer", subject_id=dealer.code, assignee_role="credit_manager", outcomes=["approve", "reject"],
        sla_seconds=REVIEW_SLA_SECONDS, escalate_to="finance", dealer_id=dealer.id,
        payload={"change_id": str(change_id), "dealer": dealer.code, "old_limit": f"{dealer.credit_limit:.2f}",
                 "new_limit": f"{new_limit:.2f}", "requested_by": actor, "threshold": f"{threshold:.2f}",
                 "requester_id": requester, "not_by": [actor]},
        not_by=[actor])
    return Pending(str(change_id), dealer.credit_limit, new_limit, actor,
                   LimitChangeInput(str(change_id), dealer.code, spec))


def apply(session: Session, inp: LimitChangeOutcomeInput) -> str:
    """The second person's answer: approve sets the limit (audited with both people), reject records
    why. Once: an answered change is left as it is. Returns the change's status."""
    change = session.scalars(select(CreditLimitChange).where(
        CreditLimitChange.id == uuid.UUID(inp.change_id)).with_for_update()).first()
    if change is None:  # its request was never committed (the workflow started, the commit failed)
        return "missing"
    if change.status != "pending":
        return change.status
    dealer = session.scalars(select(Dealer).where(Dealer.id == change.dealer_id).with_for_update()).one()
    result = inp.task
    change.decided_by, change.decided_at = result.actor, datetime.now(timezone.utc)
    change.reason = result.comment or None
    if result.outcome == "approve":
        change.status = "approved"
        before = dealer.credit_limit
        dealer.credit_limit = change.new_limit
        audit.record(session, record_type="dealer", key=dealer.code, before={"credit_limit": before},
                     after={"credit_limit": change.new_limit}, actor=result.actor, via="approval",
                     note=f"requested by {change.requested_by}, approved by {result.actor}"
                          + (f": {result.comment}" if result.comment else ""))
    else:
        change.status = "rejected"
        audit.record(session, record_type="dealer", key=dealer.code,
                     before={"credit_limit_request": change.new_limit}, after={"credit_limit_request": "rejected"},
                     actor=result.actor, via="approval",
                     note=f"requested by {change.requested_by}, rejected by {result.actor}: {result.comment or '-'}")
    requester = session.scalars(select(User.id).where(User.username == change.requested_by)).first()
    if requester is not None:
        notify(session, user_id=requester, kind="task",
               title=f"Credit limit of {dealer.code} to {change.new_limit:.2f}: {change.status}",
               body=result.comment or "", link=f"/console/dealers/{dealer.code}",
               dedup_key=f"credit-limit:{change.id}:{change.status}")
    return change.status


def changes(session: Session, dealer_id: int, *, limit: int = 20) -> list[CreditLimitChange]:
    """A dealer's raises, newest first."""
    return list(session.scalars(select(CreditLimitChange).where(CreditLimitChange.dealer_id == dealer_id)
                                .order_by(CreditLimitChange.requested_at.desc()).limit(limit)))


def pending_for(session: Session, dealer_id: int) -> CreditLimitChange | None:
    return session.scalars(select(CreditLimitChange).where(CreditLimitChange.dealer_id == dealer_id,
                                                           CreditLimitChange.status == "pending")).first()


def find(session: Session, change_id: str) -> CreditLimitChange:
    try:
        key = uuid.UUID(change_id)
    except ValueError:
        raise NotFound("no such credit limit change") from None
    change = session.get(CreditLimitChange, key)
    if change is None:
        raise NotFound("no such credit limit change")
    return change
