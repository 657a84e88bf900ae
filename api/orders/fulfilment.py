"""Fulfilment and money from the ERP or the warehouse: shipments, deliveries, returns and payments,
one at a time, as JSON arrays, or as CSV imports. HQ, finance and admins record them; a batch is
all or nothing, and a refused batch lists every bad row. Dealers read their own returns and payments."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.orders import fulfilment
from dealerflow.orders.fulfilment import BatchError
from api.schemas import BIGINT
from api.errors import responses
from api.uploads import read_upload
from dealerflow.models import User

from api.deps import CurrentUser, SessionDep, require_role
from api.scope import dealer_filter
from api.orders.schemas import (BatchResult, FulfilmentAt, OrderRead, PaymentIn, PaymentRead, ReturnIn, ReturnRead,
                                ShipmentAt)
from api.orders.views import order_read
from api.scope import parse_uuid

router = APIRouter(tags=["fulfilment"])
Staff = Annotated[User, require_role("hq", "finance", "admin")]
MAX_JSON_ROWS = 10_000  # larger batches go through the CSV import
MAX_PROBLEMS = 1000  # a refused file of 100,000 bad rows answers with the first ones
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
_CSV_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def _refused(e: BatchError):
    detail = e.detail(MAX_PROBLEMS)
    if len(e.problems) > MAX_PROBLEMS:
        detail.append({e.unit: None, "field": None,
                       "message": f"… and {len(e.problems) - MAX_PROBLEMS} more problems not shown"})
    return Invalid.listing(detail)


def _result(r: fulfilment.Recorded) -> BatchResult:
    return BatchResult(kind=r.kind, rows=r.rows, recorded=r.recorded, unchanged=r.unchanged, completed=r.completed)


def _move(session, user, kind: str, order_id: str, body: FulfilmentAt | None) -> OrderRead:
    field = fulfilment.COLUMNS[kind].required[1]
    at = (body.at if body else None) or datetime.now(timezone.utc).isoformat()
    try:
        codes = {"codes": " ".join(body.codes)} if getattr(body, "codes", None) else {}
        fulfilment.RECORDERS[kind](session, rows=[{"order_id": order_id, field: at, **codes}], actor=user.username)
    except BatchError as e:
        p = e.problems[0]
        if p.kind == "unknown":
            raise NotFound("order not found") from None
        if p.kind == "conflict":
            raise Conflict(p.message) from None
        raise Invalid(p.message, field="at" if p.field == field else p.field) from None
    session.commit()
    return order_read(session, parse_uuid(order_id))


@router.post("/api/v1/orders/{order_id}/ship", response_model=OrderRead, responses=responses(409))
def ship_order(order_id: str, session: SessionDep, user: Staff, body: ShipmentAt | None = None):
    """An approved order leaves the warehouse (`at`: default now), with the product codes scanned into
    it (`codes`, optional: bound to the order's dealer and region). The same time again changes nothing."""
    return _move(session, user, "shipments", order_id, body)


@router.post("/api/v1/orders/{order_id}/deliver", response_model=OrderRead, responses=responses(409))
def deliver_order(order_id: str, session: SessionDep, user: Staff, body: FulfilmentAt | None = None):
    """A shipped order reaches the dealer: its amount is booked to the dealer's account."""
    return _move(session, user, "deliveries", order_id, body)


@router.post("/api/v1/returns", response_model=BatchResult, status_code=201)
def record_returns(rows: Annotated[list[ReturnIn], Body(max_length=MAX_JSON_ROWS)], session: SessionDep,
                   user: Staff):
    """Goods returned from delivered orders (credited at the order's unit price). All rows or none."""
    return _batch(session, user, "returns", rows)


@router.post("/api/v1/payments", response_model=BatchResult, status_code=201)
def record_payments(rows: Annotated[list[PaymentIn], Body(max_length=MAX_JSON_ROWS)], session: SessionDep,
                    user: Staff):
    """Payments received; a delivered order they cover is completed. All rows or none."""
    return _batch(session, user, "payments", rows)


def _batch(session, user, kind: str, rows) -> BatchResult:
    try:
        recorded = fulfilment.RECORDERS[kind](session, rows=[r.model_dump(exclude_unset=True) for r in rows],
                                              actor=user.username)
    except BatchError as e:
        raise _refused(e) from None
    session.commit()
    return _result(recorded)


@router.post("/api/v1/imports/{kind}", response_model=BatchResult, status_code=201, openapi_extra=_CSV_BODY,
             responses=responses(413, 415))
async def import_csv(kind: Literal["shipments", "deliveries", "returns", "payments"], request: Request, user: Staff):
    """A CSV file (UTF-8, comma-separated, header row), as a `text/csv` body or the multipart field
    `file`. Columns: shipments order_id, shipped_at; deliveries order_id, delivered_at; returns
    reference, order_id, sku, quantity, returned_at[, reason]; payments reference, amount, paid_at,
    order_id and/or dealer[, method]. Times: ISO 8601 with offset, or a date (China).
    All rows or none: 422 lists every problem by line."""
    upload = await read_upload(request, limit=fulfilment.MAX_UPLOAD, accept=CSV_TYPES,
                               hint="send the CSV as a text/csv body or as the multipart field 'file'")
    data = upload.data

    def record():
        with request.app.state.sessions() as session:
            recorded = fulfilment.import_csv(session, kind=kind, data=data, actor=user.username)
            session.commit()
            return recorded

    try:
        return _result(await run_in_threadpool(record))
    except BatchError as e:
        raise _refused(e) from None


# --- reading ----------------------------------------------------------------------------------------

def _listing_args(user, dealer, start, end, limit, offset) -> dict:
    return dict(scope=lambda column: dealer_filter(user, column, level_two=True), dealer=dealer, start=start, end=end,
                limit=limit, offset=offset)


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=BIGINT)]
From = Annotated[date | None, Query(alias="from", description="first business day (China), included")]
To = Annotated[date | None, Query(description="last business day (China), included")]


@router.get("/api/v1/payments", response_model=list[PaymentRead])
def list_payments(session: SessionDep, user: CurrentUser, dealer: str | None = None, from_: From = None,
                  to: To = None, limit: Limit = 100, offset: Offset = 0):
    """Newest first. A dealer sees its own (and its level-2 dealers'); staff their dealers (api/scope.py)."""
    return [PaymentRead(reference=p.reference, dealer_code=code, order_id=str(p.order_id) if p.order_id else None,
                        amount=p.amount, paid_at=p.paid_at, method=p.method, recorded_by=p.recorded_by)
            for p, code in fulfilment.payments(session, **_listing_args(user, dealer, from_, to, limit, offset))]


@router.get("/api/v1/returns", response_model=list[ReturnRead])
def list_returns(session: SessionDep, user: CurrentUser, dealer: str | None = None, from_: From = None,
                 to: To = None, limit: Limit = 100, offset: Offset = 0):
    """Newest first, scoped as payments are."""
    return [ReturnRead(reference=r.reference, dealer_code=code, order_id=str(r.order_id), sku=r.sku,
                       quantity=r.quantity, amount=r.amount, returned_at=r.returned_at, reason=r.reason,
                       recorded_by=r.recorded_by)
            for r, code in fulfilment.returns(session, **_listing_args(user, dealer, from_, to, limit, offset))]
