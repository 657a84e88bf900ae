"""Dealer requests: the request's workflow (its human tasks, closure, reopening) and the SLA sweep."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .tasks import TaskResult, TaskSpec


@dataclass
class ServiceRequestInput:
    request_id: str
    task: TaskSpec  # the first task, already opened in the filing transaction
    reopen_within_seconds: int


@dataclass
class ServiceCloseInput:
    request_id: str
    task: TaskResult


@dataclass
class ServiceClosed:
    closed: bool  # False: the request was already closed


@dataclass
class ServiceSweepInput:
    now: datetime | None = None
    batch: int = 2000


@dataclass
class ServiceSweepResult:
    reminded: int = 0
    breached: int = 0
    retargeted: int = 0


SERVICE_SWEEP_SCHEDULE = "service-sla-sweep"


def service_workflow_id(request_id: str) -> str:
    return f"service-{request_id}"


@dataclass
class CareDayInput:
    day: str | None = None  # YYYY-MM-DD, Beijing; None: today


@dataclass
class CareDayResult:
    day: str
    greeted: int = 0
    points: int = 0
    told_eve: int = 0
    contact_tasks: int = 0
    offers: int = 0  # credits and rebate extras given
    credited: str = "0.00"  # ¥ of the credits booked on dealers' accounts


CARE_SCHEDULE = "care-daily"


@dataclass
class RedemptionInput:
    redemption_id: str
    task: TaskSpec


@dataclass
class RedemptionSettleInput:
    redemption_id: str
    task: TaskResult


def redemption_workflow_id(redemption_id: str) -> str:
    return f"redemption-{redemption_id}"
