"""Warehouses and stock from the ERP: HQ and admins read them, set them (JSON rows, or a CSV or .xlsx
file, all rows or none) and adjust them. More stock fills waiting orders at once."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.models import User
from dealerflow.stock import levels

from api.deps import SessionDep, require_role
from api.errors import responses
from api.schemas import BIGINT
from api.stock.schemas import StockAdjustIn, StockRead, StockRowIn, StockSetRead, WarehouseIn, WarehouseRead
from api.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["stock"])
Stockkeeper = Annotated[User, require_role("hq", "admin")]
MAX_JSON_ROWS = 10_000  # larger batches go through the file import
FILE_TYPES = ("text/csv", "application/csv", "text/plain",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_FILE_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def _set(result: levels.StockSet) -> StockSetRead:
    return StockSetRead(rows=result.rows, changed=result.changed, filled=result.filled)


@router.get("/warehouses", response_model=list[WarehouseRead])
def list_warehouses(session: SessionDep, user: Stockkeeper):
    return [WarehouseRead(code=w.code, name=w.name, region=w.region) for w in levels.warehouses(session)]


@router.post("/warehouses", response_model=WarehouseRead, status_code=201, responses=responses(409))
def create_warehouse(body: WarehouseIn, session: SessionDep, user: Stockkeeper):
    w = levels.create_warehouse(session, code=body.code, name=body.name, region=body.region)
    session.commit()
    return WarehouseRead(code=w.code, name=w.name, region=w.region)


@router.get("/stock", response_model=list[StockRead])
def list_stock(session: SessionDep, user: Stockkeeper, warehouse: Annotated[str | None, Query(max_length=32)] = None,
               sku: Annotated[str | None, Query(max_length=64)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 500, offset: Annotated[int, Query(ge=0, le=BIGINT)] = 0):
    """Stock per SKU and warehouse: on hand, reserved by orders, available, and units orders wait for."""
    return [StockRead(warehouse=s.warehouse, warehouse_name=s.warehouse_name, sku=s.sku, product_name=s.product_name,
                      on_hand=s.on_hand, reserved=s.reserved, available=s.available, backordered=s.backordered)
            for s in levels.levels(session, warehouse=warehouse, sku=sku, limit=limit, offset=offset)]


@router.post("/stock", response_model=StockSetRead)
def set_stock(rows: Annotated[list[StockRowIn], Body(max_length=MAX_JSON_ROWS)], session: SessionDep,
              user: Stockkeeper):
    """Units on hand as the ERP counts them (rows: warehouse, sku, on_hand). All rows or none: 422
    lists every bad row by index (unknown warehouse or SKU, a negative count, less than orders hold)."""
    result = levels.set_levels(session, rows=[r.model_dump(exclude_unset=True) for r in rows], actor=user.username)
    session.commit()
    return _set(result)


@router.post("/stock/adjust", response_model=StockSetRead)
def adjust_stock(body: StockAdjustIn, session: SessionDep, user: Stockkeeper):
    """Units found or lost in a warehouse (a count, damage)."""
    result = levels.adjust(session, warehouse=body.warehouse, sku=body.sku, delta=body.delta, actor=user.username,
                           reason=body.reason)
    session.commit()
    return _set(result)


@router.post("/stock/import", response_model=StockSetRead, openapi_extra=_FILE_BODY, responses=responses(413, 415))
async def import_stock(request: Request, user: Stockkeeper):
    """A CSV (UTF-8) or .xlsx file with the columns warehouse, sku, on_hand, as the body or the
    multipart field `file`. All rows or none: 422 lists every problem by line."""
    upload = await read_upload(request, limit=levels.MAX_UPLOAD, accept=FILE_TYPES,
                               hint="send a CSV or .xlsx file as the body or as the multipart field 'file'")

    def record() -> levels.StockSet:
        with request.app.state.sessions.begin() as session:
            return levels.import_file(session, data=upload.data, actor=user.username)

    return _set(await run_in_threadpool(record))
