"""Response shapes of product codes, scans and investigation cases."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from api.schemas import Out


class CodesRegistered(Out):
    batch_no: str
    sku: str
    codes: int
    first: str
    last: str


class CodesBound(Out):
    dealer_code: str
    region: str
    order_id: str | None
    bound: int
    unchanged: int


class CodeTrace(Out):
    code: str
    registered: bool
    product: dict | None
    batch: dict | None
    binding: dict | None
    scans: list[dict]
    cases: list[dict]


class ScansRecorded(Out):
    received: int
    accepted: int
    duplicates: int
    invalid: int
    problems: list[dict]
    alerts: Any
    cases_opened: list[Any]
    cases_joined: Any
    detection: Any


class CaseSummary(Out):
    id: int
    status: str
    severity: Any
    region: str | None
    dealer_code: str | None
    dealer_name: str | None
    sku: str | None
    alerts: int
    triggers: dict[str, int]
    first_alert_at: datetime | None
    last_alert_at: datetime | None
    opened_at: datetime | None
    points: Any
    resolved_at: datetime | None
    workflow_id: str


class CaseRead(CaseSummary):
    product_name: str | None
    task_id: str | None
    resolved_by: str | None
    resolution: Any
    assessment: Any
    recent_alerts: list[dict]


class SweepResult(Out):
    alerts: Any
    cases: list[Any]
    earned_back: Any
