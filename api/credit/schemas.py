"""Response shapes of credit: a dealer's account page, scoring runs."""
from __future__ import annotations

from datetime import date, datetime

from api.schemas import Out


class EntryRead(Out):
    id: int
    kind: str
    amount: str
    value_date: date
    source_type: str
    source_id: str
    note: str


class OpenOrderRead(Out):
    id: str
    status: str
    amount: str
    created_at: datetime


class AccountRead(Out):
    dealer: str
    name: str
    level: int
    payment_terms_days: int
    balance: str  # receivables: the ledger's balance today
    overdue_days: int  # the oldest unpaid invoice's days past its due date, today
    held: str  # approved orders not yet delivered
    credit_limit: str
    headroom: str  # the limit less balance and held orders (below 0: over the limit)
    over_limit: bool
    rating: str
    scorecard: dict | None  # the latest credit scorecard: month, score, rating, reason, figures, dimensions
    credit_points: int
    entries: list[EntryRead]
    entries_total: int
    open_orders: list[OpenOrderRead]


class CreditRunStarted(Out):
    month: str
    workflow_id: str
    action: str


class CreditRunRead(Out):
    month: str
    stage: str
    ruleset_version: int
    as_of: date
    started_by: str
    started_at: datetime
    closed_at: datetime | None
    totals: dict
