"""Statements (对账单): dealers read, confirm or dispute their own; finance and HQ read all. Each
statement comes as JSON, CSV or a printable HTML page."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dealerflow.core.errors import NotFound
from dealerflow.shared import exports

from api.errors import responses
from api.rebates.schemas import DisputeCreate, StatementRead
from api.rebates.temporal import answer_statement
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep
from api.rebates.views import statement_csv, statement_list, statement_read, visible_statement

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])


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
        return Response(statement_csv(read).encode("utf-8"), media_type=exports.MEDIA_TYPE, headers={
            "Content-Disposition": f'attachment; filename="statement-{read["dealer_code"]}-{read["run_id"].replace(":", "_")}.csv"'})
    if format == "html":
        from api.pages import page  # the console's layout; imported here to keep the JSON routes light
        return page(request, "statement.html", user, statement=read, printable=True)
    return read


@router.post("/{statement_id}/confirm", response_model=StatementRead, responses=responses(409))
async def confirm(statement_id: str, request: Request, user: DealerUser, client: TemporalDep):
    return await answer_statement(client=client, sessions=request.app.state.sessions, user=user,
                                  statement_id=statement_id, dispute=None)


@router.post("/{statement_id}/dispute", response_model=StatementRead, responses=responses(409))
async def dispute(statement_id: str, body: DisputeCreate, request: Request, user: DealerUser, client: TemporalDep):
    return await answer_statement(client=client, sessions=request.app.state.sessions, user=user,
                                  statement_id=statement_id, dispute=body.reason)
