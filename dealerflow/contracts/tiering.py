"""The monthly re-tiering run."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .tasks import TaskResult, TaskSpec

CHINA = timezone(timedelta(hours=8))  # business dates are China's, whatever the server's zone


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


def workflow_id_for(month: str) -> str:
    return f"tiering-{month}"


def month_of(at: datetime) -> str:
    """The month (China time) an instant falls in: the month a scheduled run tiers for."""
    return at.astimezone(CHINA).strftime("%Y-%m")
