"""Tiering: a dealer's tier and why; HQ's distribution, re-tiering runs (monthly by schedule, on
demand here) and silent dealers with the activation rate."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import StringConstraints
from sqlalchemy import select

from dealerflow.core.errors import NotFound
from dealerflow.models import TieringRun, User

from api.tiering.temporal import start_retiering
from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalDep, require_role
from api.schemas import Strict
from api.tiering.schemas import (DealerTier, RetieringStarted, SilentOverview, TierDistribution,
                                 TieringRunRead)
from api.tiering.views import distribution, dealer_tier, run_read, silent_overview, visible_dealer

router = APIRouter(tags=["tiering"])
HQ = require_role("hq", "admin")


class RetieringCreate(Strict):
    month: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=16)] = None


@router.get("/api/v1/dealers/{code}/tier", response_model=DealerTier)
def get_dealer_tier(code: str, session: SessionDep, user: CurrentUser):
    """The dealer's tier, tags and the tier's benefits; its latest scorecard, dimension by dimension
    and why; its history. A dealer sees only its own."""
    dealer = visible_dealer(session, user, code)
    if dealer is None:
        raise NotFound("dealer not found")
    return dealer_tier(session, dealer)


@router.get("/api/v1/tiering/distribution", response_model=TierDistribution, dependencies=[HQ])
def get_distribution(session: SessionDep):
    """How many dealers each tier holds, by region."""
    return distribution(session)


@router.post("/api/v1/tiering/runs", response_model=RetieringStarted, status_code=202)
async def start_run(request: Request, user: Annotated[User, HQ], client: TemporalDep, settings: SettingsDep,
                    body: RetieringCreate | None = None):
    """Re-tier every dealer for `month` (default: this month). A month runs once: asking again
    returns the run."""
    started = await start_retiering(
        client=client, task_queue=settings.task_queue, sessions=request.app.state.sessions,
        month=body.month if body else None, actor=user.username, now=datetime.now(timezone.utc))
    return {"month": started.month, "workflow_id": started.workflow_id, "action": started.action}


@router.get("/api/v1/tiering/runs", response_model=list[TieringRunRead], dependencies=[HQ])
def list_runs(session: SessionDep, limit: Annotated[int, Query(ge=1, le=120)] = 24):
    runs = session.scalars(select(TieringRun).order_by(TieringRun.month.desc()).limit(limit))
    return [run_read(session, r, with_changes=False) for r in runs]


@router.get("/api/v1/tiering/runs/{month}", response_model=TieringRunRead, dependencies=[HQ])
def get_run(month: str, session: SessionDep):
    run = session.get(TieringRun, month)
    if run is None:
        raise NotFound("no tiering run for that month")
    return run_read(session, run)


@router.get("/api/v1/tiering/silent", response_model=SilentOverview, dependencies=[require_role("hq", "admin", "account_manager")])
def get_silent(session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=2000)] = 500):
    """Dealers flagged silent that have not ordered again, and the activation rate (flagged dealers
    that ordered again): all for HQ, an account manager's own for an account manager."""
    return silent_overview(session, user, limit=limit)
