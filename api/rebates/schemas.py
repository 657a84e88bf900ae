"""Request and response shapes of rebate progress, settlement runs and statements."""
from __future__ import annotations

from typing import Annotated
from pydantic import StringConstraints
from api.schemas import Strict
from datetime import datetime
from typing import Any
from api.schemas import Out


class SettlementCreate(Strict):
    program: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
    period: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    upto: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=16)] = None


class DisputeCreate(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RebateProgress(Out):
    """A program's ladder this period: where the dealer stands and what the next bracket pays."""
    program: str
    title: str
    version: int
    period: str
    period_from: str
    period_to: str
    unit: str
    measure: str
    bracket: Any
    brackets: list[dict]
    earned_so_far: str
    next_bracket: Any
    to_next_bracket: str | None
    at_next_bracket: str | None
    explanation: str


class SettlementStarted(Out):
    run_id: str
    workflow_id: str
    action: str


class SettlementRunRead(Out):
    id: str
    program: str
    period: str
    upto: str | None
    final: bool
    ruleset_version: int | None
    stage: str
    workflow_id: str | None
    measure_from: str
    span_from: str
    span_to: str
    started_by: str | None
    started_at: datetime | None
    frozen_at: datetime | None
    closed_at: datetime | None
    totals: Any
    statements: dict[str, int]
    approvals: Any
    approval_tasks: list[dict]


class StatementRead(Out):
    """Money as decimal strings: opening, deliveries, returns, payments, rebates_posted, rebate,
    points_amount, closing."""
    id: str
    run_id: str
    program: str
    period: str
    upto: str | None
    final: bool
    run_stage: str
    dealer_code: str
    dealer_name: str
    revision: int
    current: bool
    status: str
    span_from: str
    span_to: str
    opening: str
    deliveries: str
    returns: str
    payments: str
    rebates_posted: str
    rebate: str
    points_amount: str
    closing: str
    points: int
    issued_at: datetime | None
    confirm_by: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str | None
    disputed_at: datetime | None
    dispute_reason: str | None
    resolution: Any
    posted_at: datetime | None
    explanation: Any
