"""Anti-diversion cases and the hourly sweep."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.common import SearchAttributePair as Pair
from temporalio.common import TypedSearchAttributes

from .search import CASE_ID, DEALER_ID, REGION, STAGE
from .tasks import TaskResult, TaskSpec


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


def workflow_id_for(case_id: int) -> str:
    return f"diversion-case-{case_id}"


def case_search_attributes(case: CaseStart) -> TypedSearchAttributes:
    pairs = [Pair(CASE_ID, str(case.case_id)), Pair(REGION, case.region), Pair(STAGE, "open")]
    if case.dealer_code:
        pairs.append(Pair(DEALER_ID, case.dealer_code))
    return TypedSearchAttributes(pairs)
