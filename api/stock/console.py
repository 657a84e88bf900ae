"""Console page of HQ's stock: warehouses and stock per SKU (on hand, reserved, available, waiting),
set from a CSV or .xlsx file of the ERP, adjusted by hand, and new warehouses. HQ and admins."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError
from dealerflow.stock import levels

from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.paging import paging

router = APIRouter(prefix="/console", include_in_schema=False)
KEEPERS = ("hq", "admin")
PROBLEMS_SHOWN = 200


def _stock_page(request: Request, user, status_code: int = 200, *, warehouse: str | None = None,
                sku: str | None = None, **context):
    warehouse = (warehouse or "").strip()[:32] or None
    sku = (sku or "").strip()[:64] or None
    with request.app.state.sessions() as session:
        pager = paging(request, levels.count(session, warehouse=warehouse, sku=sku), warehouse=warehouse or "",
                       sku=sku or "")
        return page(request, "stock.html", user, status_code, warehouses=levels.warehouses(session),
                    stock=levels.levels(session, warehouse=warehouse, sku=sku, limit=pager.limit,
                                        offset=pager.offset), pager=pager,
                    warehouse=warehouse or "", sku=sku or "", limit_mb=levels.MAX_UPLOAD // (1024 * 1024), **context)


@router.get("/stock")
def stock_page(request: Request, user: ConsoleUser, warehouse: str | None = None, sku: str | None = None):
    require(user, *KEEPERS)
    return _stock_page(request, user, warehouse=warehouse, sku=sku)


@router.post("/stock/import")
async def import_stock(request: Request, user: ConsoleUser, file: Annotated[UploadFile | None, File()] = None):
    """The same import as `POST /api/v1/stock/import`: all rows or none, every problem by line."""
    require(user, *KEEPERS)
    _ = translator(request)
    if file is None or not file.filename:
        return await run_in_threadpool(_stock_page, request, user, 422, error=_("Choose a CSV or .xlsx file."))
    data = await file.read(levels.MAX_UPLOAD + 1)
    if len(data) > levels.MAX_UPLOAD:
        return await run_in_threadpool(_stock_page, request, user, 413, error=_(
            "The file is larger than %(mb)s MB: split it.", mb=levels.MAX_UPLOAD // (1024 * 1024)))

    def record():
        with request.app.state.sessions.begin() as session:
            return levels.import_file(session, data=data, actor=user.username)

    try:
        result = await run_in_threadpool(record)
    except DomainError as e:
        message, status = refusal(e, request)
        return await run_in_threadpool(_stock_page, request, user, status, problems=e.errors[:PROBLEMS_SHOWN],
                                       more=max(0, len(e.errors) - PROBLEMS_SHOWN), error=None if e.errors else message,
                                       filename=file.filename)
    return back("/console/stock", flash=_("%(file)s imported: %(changed)s of %(rows)s row(s) changed, %(filled)s "
                                          "waiting unit(s) reserved.", file=file.filename, changed=result.changed,
                                          rows=result.rows, filled=result.filled))


@router.post("/stock/adjust")
def adjust_stock(request: Request, user: ConsoleUser, warehouse: Annotated[str, Form()] = "",
                 sku: Annotated[str, Form()] = "", delta: Annotated[str, Form()] = "",
                 reason: Annotated[str, Form()] = ""):
    require(user, *KEEPERS)
    _ = translator(request)
    try:
        with request.app.state.sessions.begin() as session:
            levels.adjust(session, warehouse=warehouse, sku=sku, delta=delta.strip(), actor=user.username,
                          reason=reason)
    except DomainError as e:
        message, status = refusal(e, request)
        return _stock_page(request, user, status, error=message,
                           form={"warehouse": warehouse, "sku": sku, "delta": delta, "reason": reason})
    return back(f"/console/stock?sku={sku}", flash=_("Stock of %(sku)s in %(warehouse)s adjusted.", sku=sku,
                                                     warehouse=warehouse))


@router.post("/warehouses")
def create_warehouse(request: Request, user: ConsoleUser, code: Annotated[str, Form()] = "",
                     name: Annotated[str, Form()] = "", region: Annotated[str, Form()] = ""):
    require(user, *KEEPERS)
    _ = translator(request)
    try:
        with request.app.state.sessions.begin() as session:
            levels.create_warehouse(session, code=code, name=name, region=region)
    except DomainError as e:
        message, status = refusal(e, request)
        return _stock_page(request, user, status, error=message, new={"code": code, "name": name, "region": region})
    return back("/console/stock", flash=_("Warehouse %(code)s created.", code=code.strip()))
