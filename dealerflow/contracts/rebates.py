"""A rebate settlement run: freeze, answers, disputes, approvals, posting, close; and the schedule's due runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .tasks import TaskResult, TaskSpec


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
class PostResult:
    posted: int  # statements credited by this batch
    left: int  # confirmed statements still unposted (held by another transaction, or the next batch)


@dataclass
class SettlementFailedInput:
    """A step of a run failed for good: `statement_id` when it was a dispute's resolution (the
    statement goes back to finance), else the run itself is marked failed."""
    run_id: str
    activity: str
    error: str
    now: datetime
    task: TaskResult | None = None  # the decision that could not be applied
    actor: str | None = None  # who started the run, when no decision was being applied
    statement_id: str | None = None


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


def workflow_id_for(run_id: str) -> str:
    return f"settlement-{run_id}"
