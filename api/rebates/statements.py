"""Statements (对账单): dealers read, confirm or dispute their own; finance and HQ read all. Each
statement comes as JSON, CSV or a printable HTML page."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Conflict, NotFound
from dealerflow.rebates import settlement

from api.errors import responses
from api.rebates.temporal import wake_settlement
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep
from api.schemas import Strict
from api.rebates.schemas import StatementRead
from api.rebates.views import statement_csv, statement_list, statement_read, visible_statement

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])


class DisputeCreate(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


@router.get("", response_model=list[StatementRead])
def list_statements(session: SessionDep, user: CurrentUser, run: str | None = None, dealer: str | None = None,
                    status: Literal["issued", "confirmed", "disputed"] | None = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 200):
    return statement_list(session, user, run_id=run, dealer_code=dealer, status=status, limit=limit)


@router.get("/{statement_id}", response_model=StatementRead, responses={200: {"content": {
    "text/csv": {"schema": {"type": "string"}}, "text/html": {"schema": {"type": "string"}}}}})
def get_statement(statement_id: str, request: Request, session: SessionDep, user: CurrentUser,
                  format: Literal["json", "csv", "html"] | None = None):
    """`format=csv` or `Accept: text/csv` for a spreadsheet; `format=html` for the printable page."""
    statement = visible_statement(session, user, statement_id)
    if statement is None:
        raise NotFound("statement not found")
    read = statement_read(session, statement)
    accept = request.headers.get("accept", "")
    if format == "csv" or (format is None and "text/csv" in accept):
        return Response(statement_csv(read), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="statement-{read["dealer_code"]}-{read["run_id"].replace(":", "_")}.csv"'})
    if format == "html":
        from api.pages import page  # the console's layout; imported here to keep the JSON routes light
        return page(request, "statement.html", user, statement=read, printable=True)
    return read


async def _answer(statement_id: str, request: Request, user, client, act, *, always_wake: bool) -> dict:
    """Record the dealer's answer, then wake the run when it has something to do: a dispute, or no
    statement left unanswered (one signal per run, not one per dealer)."""
    sessions = request.app.state.sessions
    try:
        sid = uuid.UUID(statement_id)
    except ValueError:
        raise NotFound("statement not found") from None

    def write():
        with sessions.begin() as session:
            act(session, sid, datetime.now(timezone.utc))

    def read():
        with sessions() as session:
            statement = visible_statement(session, user, statement_id)
            return statement_read(session, statement), settlement.unanswered(session, statement.run_id)

    try:
        await run_in_threadpool(write)
    except settlement.NotFound:
        raise NotFound("statement not found") from None
    except settlement.Conflict as e:
        raise Conflict(str(e)) from None
    answered, left = await run_in_threadpool(read)
    if always_wake or left == 0:
        await wake_settlement(client, answered["run_id"])
    return answered


@router.post("/{statement_id}/confirm", response_model=StatementRead, responses=responses(409))
async def confirm(statement_id: str, request: Request, user: DealerUser, client: TemporalDep):
    return await _answer(statement_id, request, user, client, lambda s, sid, now: settlement.confirm(
        s, statement_id=sid, dealer_id=user.dealer_id, actor=user.username, now=now), always_wake=False)


@router.post("/{statement_id}/dispute", response_model=StatementRead, responses=responses(409))
async def dispute(statement_id: str, body: DisputeCreate, request: Request, user: DealerUser, client: TemporalDep):
    return await _answer(statement_id, request, user, client, lambda s, sid, now: settlement.dispute(
        s, statement_id=sid, dealer_id=user.dealer_id, reason=body.reason, now=now), always_wake=True)
