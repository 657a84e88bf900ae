"""The monthly credit scoring run and the approval of a dealer's limit increase."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .tasks import TaskResult


@dataclass
class CreditScoringInput:
    """Score every dealer for `month` (2026-11); None from the schedule: the month it fires in."""
    month: str | None = None
    actor: str = "schedule"


@dataclass
class CreditStepInput:
    month: str
    now: datetime
    actor: str = ""


@dataclass
class CreditScoreResult:
    month: str
    dealers: int
    changes: int  # dealers whose rating or limit the run proposes to change


@dataclass
class CreditApplyResult:
    applied: int  # ratings and limit changes applied at once
    decreases: int  # limits lowered (dealers and account managers told)
    awaiting: list[int] = field(default_factory=list)  # dealers whose increase waits for approval


@dataclass
class CreditIncreaseInput:
    """Ask for the approval of one dealer's limit increase proposed by the run of `month`."""
    month: str
    dealer_id: int


@dataclass
class CreditApprovalInput:
    month: str
    dealer_id: int
    step: int  # 1: the first approver, 2: a second person
    task_id: str
    not_by: list[str] = field(default_factory=list)


@dataclass
class CreditApprovalOutcomeInput:
    month: str
    dealer_id: int
    step: int
    task: TaskResult
    now: datetime


@dataclass
class CreditScoringResult:
    month: str
    totals: dict


def workflow_id_for(month: str) -> str:
    return f"credit-{month}"


def increase_workflow_id(month: str, dealer_id: int) -> str:
    return f"credit-increase-{month}-{dealer_id}"


def run_date(month: str) -> datetime:
    """The run's search attribute CreditRunDate: the month's first instant, China time."""
    return datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=timezone(timedelta(hours=8)))
