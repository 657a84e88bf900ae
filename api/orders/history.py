"""Order history from the ERP: the JSON body integrations send (`POST /api/v1/imports/order-history`)
or a CSV or XLSX file (`POST /api/v1/imports/order-history/file`). Admins and finance import; all rows or none; a
dry run checks and counts without writing. Each import is recorded and listed (newest first)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Invalid
from dealerflow.models import User
from dealerflow.orders import history
from dealerflow.orders.history import HistoryError
from api.deps import SessionDep, require_role
from api.errors import responses
from api.orders.schemas import HistoryBody, HistoryImportRead, HistoryResult
from api.uploads import read_upload

router = APIRouter(tags=["order history"])
Importer = Annotated[User, require_role("admin", "finance")]
FILE_TYPES = ("text/csv", "application/csv", "text/plain",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream")
_FILE_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def refused(e: HistoryError) -> Invalid:
    detail = e.detail()
    if e.total > len(detail):
        detail.append({"field": None, "message": f"… and {e.total - len(detail)} more problems not shown"})
    return Invalid.listing(detail)


def result(r: history.Imported, run_id: int) -> HistoryResult:
    return HistoryResult(import_id=run_id, dry_run=r.dry_run, rows=r.rows, orders=r.orders, lines=r.lines,
                         returns=r.returns, payments=r.payments, already=r.already)


def run_import(sessions, *, filename: str, actor: str, dry_run: bool, work) -> tuple[history.Imported, int]:
    """Record the import as running (committed, so it is listed at once), run `work(session)` in its
    own transaction, and record how it ended. Re-raises what refused it."""
    with sessions() as session:
        run_id = history.begin(session, filename=filename, actor=actor, dry_run=dry_run)
        session.commit()
    try:
        with sessions() as session:
            found = work(session)
            if dry_run:
                session.rollback()
            history.finish(session, run_id=run_id, result=found)
            session.commit()
        return found, run_id
    except Exception as e:
        with sessions() as session:
            history.finish(session, run_id=run_id, error=e)
            session.commit()
        raise


async def _run(request: Request, user: User, *, filename: str, dry_run: bool, work) -> HistoryResult:
    try:
        found, run_id = await run_in_threadpool(run_import, request.app.state.sessions, filename=filename,
                                                actor=user.username, dry_run=dry_run, work=work)
    except HistoryError as e:
        raise refused(e) from None
    return result(found, run_id)


DryRun = Annotated[bool, Query(description="check and count, write nothing")]


@router.post("/api/v1/imports/order-history", response_model=HistoryResult, status_code=201,
             responses=responses(413))
async def import_history(body: HistoryBody, request: Request, user: Importer, dry_run: DryRun = False):
    """Orders with their lines, shipments, deliveries, returns and payments as they happened in the ERP,
    for integrations: `orders` (each with its `lines`), `returns`, `payments`. All or nothing: 422
    names every problem by its place (`orders[3].lines[1].quantity`). An order, return or payment
    whose number is already there is left as it is and counted in `already`. Imported orders start
    no workflow. The same import as the file's (`/api/v1/imports/order-history/file`)."""
    try:
        rows, name = history.json_rows([o.model_dump() for o in body.orders], [r.model_dump() for r in body.returns],
                                       [p.model_dump() for p in body.payments])
    except HistoryError as e:
        raise refused(e) from None

    def work(session):
        return history.import_rows(session, rows=rows, actor=user.username, dry_run=dry_run, name=name)
    return await _run(request, user, filename="JSON", dry_run=dry_run, work=work)


@router.post("/api/v1/imports/order-history/file", response_model=HistoryResult, status_code=201,
             openapi_extra=_FILE_BODY, responses=responses(413, 415))
async def import_history_file(request: Request, user: Importer, dry_run: DryRun = False):
    """A CSV (UTF-8, UTF-8 with BOM, or GB18030) or XLSX file of order history as the body or the
    multipart field `file`: one row per order line with the order's columns repeated; returns and
    payments are rows with `record` = return or payment (README, "Order history from the ERP").
    All or nothing: 422 lists every problem by line and column."""
    upload = await read_upload(request, limit=history.MAX_UPLOAD, accept=FILE_TYPES,
                               hint="send a CSV or XLSX body, or the file as the multipart field 'file'")
    data = upload.data

    def work(session):
        return history.import_file(session, data=data, actor=user.username, dry_run=dry_run)
    return await _run(request, user, filename=upload.filename or "upload", dry_run=dry_run, work=work)


@router.get("/api/v1/imports/order-history", response_model=list[HistoryImportRead])
def list_history_imports(session: SessionDep, user: Importer, limit: Annotated[int, Query(ge=1, le=100)] = 20):
    """The latest order-history imports, newest first: running, imported, checked (dry run) or refused."""
    return [HistoryImportRead(id=r.id, filename=r.filename, actor=r.actor, dry_run=r.dry_run, state=r.state,
                              rows=r.rows, counts=r.counts, problems=r.problems, started_at=r.started_at,
                              finished_at=r.finished_at)
            for r in history.recent(session, limit=limit)]
