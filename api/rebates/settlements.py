"""Settlement runs: finance starts one on demand (schedules start the rest); finance and HQ follow them."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from dealerflow.core.errors import NotFound
from dealerflow.shared import accounts
from dealerflow.models import SettlementRun, User

from api.rebates.schemas import SettlementCreate
from api.rebates.temporal import start_settlement
from api.deps import SessionDep, SettingsDep, TemporalDep, require_role
from api.rebates.views import run_read
from api.rebates.schemas import SettlementRunRead, SettlementStarted

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements"])
Finance = Annotated[User, require_role("finance", "admin")]
Watchers = require_role("finance", "hq", "admin")


@router.post("", response_model=SettlementStarted, status_code=202)
async def start(body: SettlementCreate, request: Request, user: Finance, client: TemporalDep, settings: SettingsDep):
    """Start the settlement of `program` for `period` (with `upto`, an interim run inside it). Asking
    for a run that exists returns it: a run is never started twice."""
    started = await start_settlement(
        client=client, task_queue=settings.task_queue, sessions=request.app.state.sessions, program=body.program,
        period=body.period, upto=body.upto, actor=user.username,
        today=accounts.business_date(datetime.now(timezone.utc)))
    return {"run_id": started.run_id, "workflow_id": started.workflow_id, "action": started.action}


@router.get("", response_model=list[SettlementRunRead], dependencies=[Watchers])
def list_runs(session: SessionDep, program: str | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100):
    q = select(SettlementRun).order_by(SettlementRun.started_at.desc()).limit(limit)
    if program:
        q = q.where(SettlementRun.program == program)
    return [run_read(session, r) for r in session.scalars(q)]


@router.get("/{run_id}", response_model=SettlementRunRead, dependencies=[Watchers])
def get_run(run_id: str, session: SessionDep):
    run = session.get(SettlementRun, run_id)
    if run is None:
        raise NotFound("settlement run not found")
    return run_read(session, run)
