"""Dataclasses that cross workflow and activity boundaries, and the search attributes HQ filters
on in the Temporal Web UI. Pure: imported by workflows inside the sandbox."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio.common import SearchAttributeKey

DEALER_ID = SearchAttributeKey.for_keyword("DealerId")
REGION = SearchAttributeKey.for_keyword("Region")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
STAGE = SearchAttributeKey.for_keyword("Stage")
TASK_ROLE = SearchAttributeKey.for_keyword("TaskRole")
POLICY_ID = SearchAttributeKey.for_keyword("PolicyId")
REBATE_PROGRAM = SearchAttributeKey.for_keyword("RebateProgram")
SETTLEMENT_PERIOD = SearchAttributeKey.for_keyword("SettlementPeriod")
CASE_ID = SearchAttributeKey.for_keyword("CaseId")
TIERING_MONTH = SearchAttributeKey.for_keyword("TieringMonth")
SEARCH_ATTRIBUTES = (DEALER_ID, REGION, ORDER_ID, STAGE, TASK_ROLE, POLICY_ID, REBATE_PROGRAM, SETTLEMENT_PERIOD,
                     CASE_ID, TIERING_MONTH)


@dataclass
class OrderLineInput:
    sku: str
    quantity: int


@dataclass
class PlaceOrderInput:
    order_id: str
    dealer_id: int
    lines: list[OrderLineInput]
    actor: str
    user_id: int | None = None
    idempotency_key: str | None = None


@dataclass
class CreditDecision:
    order_id: str
    status: str  # approved | pending_review | rejected
    decision: str  # approve | review | reject
    ruleset: str
    version: int
    rule: str
    reason: str
    amount: str  # decimal string: exact, and readable in the Temporal UI
    dealer_code: str
    # Who reviews, should the rules send the order to a person.
    review_role: str
    review_sla_seconds: int
    escalate_to: str | None = None


@dataclass
class TaskSpec:
    """What a workflow asks of a person. Reused by every process that needs a human decision."""
    task_id: str
    kind: str
    title: str
    subject_type: str
    subject_id: str
    assignee_role: str
    outcomes: list[str]
    sla_seconds: int
    escalate_to: str | None = None
    dealer_id: int | None = None
    payload: dict = field(default_factory=dict)
    assignee_user_id: int | None = None
    not_by: list[str] = field(default_factory=list)  # four eyes: these people may not complete it


@dataclass
class CompleteTaskInput:
    task_id: str
    outcome: str
    actor: str
    comment: str = ""


@dataclass
class TaskResult:
    task_id: str
    outcome: str
    actor: str
    comment: str = ""


@dataclass
class EscalationResult:
    """What the database says after an escalation: a completion recorded there wins."""
    escalated: bool
    completed: TaskResult | None = None


@dataclass
class ReviewOutcomeInput:
    order_id: str
    task: TaskResult


@dataclass
class OrderResult:
    order_id: str
    status: str


# --- policy rollout ----------------------------------------------------------------------------

@dataclass
class RolloutInput:
    policy_id: str
    version: int
    actor: str


@dataclass
class RolloutPlan:
    """What the rollout workflow needs from the policy file, read once by an activity."""
    policy_id: str
    version: int
    targets: int
    pilot_targets: int
    chase_offsets: list[int]  # seconds after a delivery at which to sweep (reminders, escalations, deadlines, dues)
    close_at: datetime  # end of the effective window
    pilot_seconds: int | None = None
    pilot_decided_by: str | None = None  # a role for an HQ decision; None: the promotion rules decide
    pilot_decision_sla_seconds: int | None = None


@dataclass
class DeliverInput:
    policy_id: str
    version: int
    now: datetime
    pilot_only: bool = False
    limit: int = 500


@dataclass
class SweepInput:
    policy_id: str
    version: int
    now: datetime


@dataclass
class SweepResult:
    reminded: int = 0
    escalated: int = 0
    overdue: int = 0
    tasks_reminded: int = 0
    tasks_overdue: int = 0
    escalation_tasks: list[TaskSpec] = field(default_factory=list)


@dataclass
class PilotInput:
    policy_id: str
    version: int
    now: datetime
    task_id: str = ""


@dataclass
class PilotVerdict:
    promote: bool
    reason: str
    figures: dict


@dataclass
class AmendInput:
    version: int
    actor: str


@dataclass
class AmendApplied:
    policy_id: str
    version: int
    now: datetime


@dataclass
class WithdrawInput:
    actor: str
    reason: str = ""


@dataclass
class PolicyStatusInput:
    """A policy's status (the rollout's stage), or the outcome of its pilot decision."""
    policy_id: str
    value: str


@dataclass
class CloseInput:
    policy_id: str
    status: str  # closed | withdrawn | cancelled
    actor: str
    now: datetime
    reason: str = ""


@dataclass
class CloseResult:
    open_task_workflows: list[str]
    figures: dict


@dataclass
class RolloutResult:
    policy_id: str
    version: int
    status: str


@dataclass
class EvidenceReviewInput:
    assignment_id: str
    attempt: int
    review: TaskSpec


@dataclass
class EvidenceOutcomeInput:
    assignment_id: str
    attempt: int
    task: TaskResult


# --- rebate settlement -------------------------------------------------------------------------

@dataclass
class SettlementInput:
    """One settlement run: a program's period, finally or (upto < period) an interim run inside it."""
    run_id: str
    program: str
    period: str
    upto: str
    actor: str


@dataclass
class FreezeResult:
    run_id: str
    statements: int
    rebate_total: str  # decimal string
    confirm_seconds: int


@dataclass
class ReviewInput:
    run_id: str
    now: datetime


@dataclass
class ReviewState:
    """Where the dealers' answers stand, after silence past the deadline has confirmed."""
    waiting: int  # statements the dealers have not answered yet
    disputed: int  # disputes not yet resolved
    new_disputes: list[TaskSpec] = field(default_factory=list)  # disputes that need a finance task
    next_deadline: datetime | None = None
    auto_confirmed: int = 0


@dataclass
class DisputeOutcomeInput:
    run_id: str
    statement_id: str
    task: TaskResult
    now: datetime


@dataclass
class ApprovalInput:
    run_id: str
    step: int  # 1: finance approval; 2: the second approver, over the rule file's threshold
    task_id: str
    not_by: list[str] = field(default_factory=list)


@dataclass
class ApprovalOutcomeInput:
    run_id: str
    step: int
    task: TaskResult


@dataclass
class PostInput:
    run_id: str
    now: datetime
    limit: int = 500


@dataclass
class CloseRunInput:
    run_id: str
    status: str  # closed | rejected
    now: datetime


@dataclass
class RunResult:
    run_id: str
    status: str
    totals: dict


@dataclass
class DueRunsInput:
    """A program's schedule fired at `now`: which runs are due (the period or interim part that just ended)."""
    program: str
    now: datetime | None = None  # None from the schedule: the workflow fills in its start time
    actor: str = "schedule"


# --- anti-diversion ----------------------------------------------------------------------------

@dataclass
class CaseInput:
    case_id: int


@dataclass
class CaseStart:
    """What starting a case's workflow needs: its id and the search attributes HQ filters on."""
    case_id: int
    dealer_code: str  # "" for a case without a dealer (unknown codes)
    region: str


@dataclass
class InvestigationInput:
    case_id: int
    task_id: str
    now: datetime


@dataclass
class Investigation:
    """The case as the rules assess it: the human task to open, or None when the case is closed (no
    trigger holds by the rule file's thresholds any more, or it was closed before)."""
    case_id: int
    status: str  # open (investigate), or the status it was closed with
    severity: str | None
    task: TaskSpec | None
    reason: str


@dataclass
class CaseOutcomeInput:
    case_id: int
    task: TaskResult
    now: datetime


@dataclass
class CaseResult:
    case_id: int
    status: str  # confirmed | dismissed
    severity: str | None
    points: int  # credit points the dealer lost


@dataclass
class DiversionSweepInput:
    now: datetime | None = None  # None from the schedule: the workflow fills in its start time


@dataclass
class DiversionSweepResult:
    alerts: int  # shipment-pattern alerts raised
    cases: list[CaseStart]  # new cases, and open cases whose workflow never started
    earned_back: int  # dealers given points for a clean quarter


# --- tiering -----------------------------------------------------------------------------------

@dataclass
class RetieringInput:
    """Re-tier every dealer for `month` (2026-11); None from the schedule: the month it fires in."""
    month: str | None = None
    actor: str = "schedule"


@dataclass
class TieringStepInput:
    month: str
    now: datetime
    actor: str = ""
    task_id: str = ""


@dataclass
class ScoreResult:
    month: str
    dealers: int
    changes: int  # dealers whose tier or tags the run proposes to change


@dataclass
class ApplyResult:
    applied: int  # changes applied at once
    awaiting: int  # downgrades waiting for approval
    approval: TaskSpec | None = None


@dataclass
class SilentResult:
    flagged: int  # dealers newly flagged silent
    activated: int  # flagged dealers found ordering again
    tasks: list[TaskSpec] = field(default_factory=list)  # activation tasks, one per account manager


@dataclass
class DowngradeOutcomeInput:
    month: str
    task: TaskResult
    now: datetime


@dataclass
class RetieringResult:
    month: str
    totals: dict
