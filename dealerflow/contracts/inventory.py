"""The daily inventory health run and the weekly forecast."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .tasks import TaskSpec

CHINA = timezone(timedelta(hours=8))
ALL_REGIONS = "*"


@dataclass
class InventoryRunInput:
    """Measure every dealer × sku on `day` (2026-12-02; None from the schedule: the day before the
    one it fires on, China time), for one region or all (None)."""
    day: str | None = None
    region: str | None = None
    actor: str = "schedule"


@dataclass
class InventoryStepInput:
    day: str
    scope: str  # a region, or * for all
    now: datetime
    actor: str = ""
    slice: int = 0  # measure or advise the dealers whose id leaves `slice` over `slices`
    slices: int = 1


@dataclass
class InventoryRunPlan:
    day: str
    scope: str
    ruleset_version: int
    done: bool = False  # the day's run closed before: nothing to do
    slices: int = 1  # the dealers measured and advised in this many slices at once


@dataclass
class HealthResult:
    pairs: int  # dealer × sku figures written (by one slice)


@dataclass
class AdviceResult:
    advice: int  # pieces of the day's advice in the run's scope
    red: int  # items of at least the task severity
    drafts: int  # automatic replenishment drafts
    tasks: list[TaskSpec] = field(default_factory=list)  # one per account manager with red items


@dataclass
class InventoryRunResult:
    day: str
    scope: str
    totals: dict


@dataclass
class ForecastInput:
    """Re-fit the forecasts on `day` (None: the day the schedule fires, China time)."""
    day: str | None = None
    actor: str = "schedule"


@dataclass
class ForecastResult:
    day: str
    series: int
    models: dict  # model name → series
    mase: float | None  # over all series with a backtest
    baseline_mase: float | None


def workflow_id_for(day: str, scope: str = ALL_REGIONS) -> str:
    return f"inventory-{day}" if scope == ALL_REGIONS else f"inventory-{day}-{scope}"


def forecast_workflow_id(day: str) -> str:
    return f"forecast-{day}"


def day_of(at: datetime, *, days_back: int = 0) -> str:
    return (at.astimezone(CHINA) - timedelta(days=days_back)).date().isoformat()
