"""Credit: a dealer's account (balance, entries, limit, headroom, rating and why, credit points, open
orders) for the dealer itself, its level-1 dealer and staff in scope; credit scoring runs (monthly by
schedule, on demand here)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import StringConstraints
from sqlalchemy import select

from dealerflow.core.errors import NotFound
from dealerflow.models import CreditRun, Dealer, User

from api.credit.schemas import AccountRead, CreditRunRead, CreditRunStarted
from api.credit.temporal import start_scoring
from api.credit.views import account, run_read, visible_dealer
from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalDep, require_role
from api.schemas import BIGINT, Strict

router = APIRouter(tags=["credit"])
CREDIT = require_role("credit_manager", "admin")
READERS = require_role("credit_manager", "admin", "hq", "finance")
DealerUser = Annotated[User, require_role("dealer")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=BIGINT)]


class CreditRunCreate(Strict):
    month: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=16)] = None


@router.get("/api/v1/account", response_model=AccountRead)
def get_own_account(session: SessionDep, user: DealerUser, limit: Limit = 50, offset: Offset = 0):
    """The calling dealer's account: balance and overdue days from its ledger today, its entries (newest
    first, a page at a time), credit limit and headroom, rating and why, credit points, open orders."""
    return account(session, session.get(Dealer, user.dealer_id), limit=limit, offset=offset)


@router.get("/api/v1/dealers/{code}/account", response_model=AccountRead)
def get_dealer_account(code: str, session: SessionDep, user: CurrentUser, limit: Limit = 50, offset: Offset = 0):
    """A dealer's account. A dealer sees its own and its level-2 dealers'; staff the dealers in scope;
    any other dealer does not exist for the caller (404)."""
    dealer = visible_dealer(session, user, code)
    if dealer is None:
        raise NotFound("dealer not found")
    return account(session, dealer, limit=limit, offset=offset)


@router.post("/api/v1/credit/runs", response_model=CreditRunStarted, status_code=202)
async def start_run(request: Request, user: Annotated[User, CREDIT], client: TemporalDep, settings: SettingsDep,
                    body: CreditRunCreate | None = None):
    """Score every dealer's credit for `month` (default: this month). A month runs once: asking again
    returns the run."""
    started = await start_scoring(
        client=client, task_queue=settings.task_queue, sessions=request.app.state.sessions,
        month=body.month if body else None, actor=user.username, now=datetime.now(timezone.utc))
    return {"month": started.month, "workflow_id": started.workflow_id, "action": started.action}


@router.get("/api/v1/credit/runs", response_model=list[CreditRunRead], dependencies=[READERS])
def list_runs(session: SessionDep, limit: Annotated[int, Query(ge=1, le=120)] = 24):
    return [run_read(r) for r in session.scalars(select(CreditRun).order_by(CreditRun.month.desc()).limit(limit))]


@router.get("/api/v1/credit/runs/{month}", response_model=CreditRunRead, dependencies=[READERS])
def get_run(month: str, session: SessionDep):
    run = session.get(CreditRun, month)
    if run is None:
        raise NotFound("no credit scoring run for that month")
    return run_read(run)
