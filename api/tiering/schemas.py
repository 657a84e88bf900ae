"""Response shapes of tiering: a dealer's tier, the distribution, runs and silent dealers."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from api.schemas import Out


class DealerTier(Out):
    dealer: str
    name: str
    region: str
    level: int
    tier: str
    tier_title: str
    tags: list[str]
    benefits: list[Any]
    tiers: list[dict]
    scorecard: dict | None
    history: list[dict]
    silent: dict | None
    applied: dict | None = None  # the benefits the platform applies: request targets, contact cadence


class TierDistribution(Out):
    tiers: list[str]
    by_tier: dict[str, int]
    total: int
    by_region: dict[str, dict[str, int]]
    last_run: dict | None


class RetieringStarted(Out):
    month: str
    workflow_id: str
    action: str


class TieringRunRead(Out):
    month: str
    stage: str
    as_of: Any
    ruleset_version: int | None
    workflow_id: str | None
    started_by: str | None
    started_at: datetime | None
    scored_at: datetime | None
    closed_at: datetime | None
    approval: Any
    totals: Any
    changes: list[dict] | None = None


class SilentOverview(Out):
    flagged: int
    activated: int
    silent: int
    activation_rate: str | None
    by_month: list[dict]
    dealers: list[dict]
