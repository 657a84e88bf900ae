"""Channel inventory API: stock reports and sell-through in (JSON, CSV or XLSX), health per dealer ×
sku with its advice and why, a dealer's own triggers, replenishment drafts placed through the order
service, the daily run on demand, and the forecasts. A dealer sees its own; staff their dealers."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import NotFound
from dealerflow.inventory import clearance, replenishment, reports
from dealerflow.models import ADVICE_ACTIONS, ADVICE_STATUSES, User

from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalDep, require_role
from api.errors import responses
from api.inventory import temporal, views
from api.inventory.schemas import (AdviceRead, ClearanceDraftIn, ClearanceDraftRead, AutoReplenishIn, AutoReplenishRead, DraftCreate, DraftPlace, DraftRead,
                                   ForecastRead, HealthRead, Recorded, RunIn, RunStarted, SafetyStockIn,
                                   SafetyStockRead, SellThroughIn, StockReportIn)
from api.orders.schemas import OrderRead
from api.schemas import BIGINT
from api.uploads import read_upload

router = APIRouter(prefix="/api/v1/inventory", tags=["channel inventory"])
Reporters = Annotated[User, require_role("dealer", "hq", "admin")]
Dealers = Annotated[User, require_role("dealer")]
Runners = Annotated[User, require_role("hq", "admin")]
FILE_TYPES = ("text/csv", "application/csv", "text/plain",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_FILE_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=BIGINT)]
Text = Annotated[str | None, Query(max_length=64)]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _recorded(r: reports.Recorded) -> Recorded:
    return Recorded(rows=r.rows, recorded=r.recorded, unchanged=r.unchanged)


@router.post("/stock-reports", response_model=Recorded, status_code=201, responses=responses(422))
def report_stock(body: StockReportIn, session: SessionDep, user: Reporters):
    """Stock on hand (and in transit) per sku and day. All rows or none: an unknown sku, a negative
    quantity, a day in the future, another dealer's row (a dealer reports its own; staff name the
    dealer) or a report older than the day's current one is refused, naming the row and field."""
    rows = [r.model_dump(exclude_unset=True) for r in body.rows]
    recorded = reports.record_stock(session, user=user, rows=rows, source="api", now=_now())
    session.commit()
    return _recorded(recorded)


async def _file_rows(request: Request, columns, required):
    upload = await read_upload(request, limit=reports.MAX_UPLOAD, accept=FILE_TYPES,
                               hint="send the CSV as a text/csv body or the CSV/XLSX as the multipart field 'file'")
    return await run_in_threadpool(reports.read_file, upload.data, columns=columns, required=required)


@router.post("/stock-reports/upload", response_model=Recorded, status_code=201, openapi_extra=_FILE_BODY,
             responses=responses(413, 415, 422))
async def upload_stock(request: Request, user: Reporters):
    """A CSV (UTF-8) or XLSX file with the columns sku, day, on_hand[, in_transit, reported_at, dealer].
    All rows or none: 422 lists every problem by line."""
    rows, places = await _file_rows(request, reports.STOCK_COLUMNS, ("sku", "day", "on_hand"))

    def record():
        with request.app.state.sessions() as session:
            recorded = reports.record_stock(session, user=user, rows=rows, places=places, source="upload", now=_now())
            session.commit()
            return recorded

    return _recorded(await run_in_threadpool(record))


@router.post("/sell-through", response_model=Recorded, status_code=201, responses=responses(422))
def report_sell_through(body: SellThroughIn, session: SessionDep, user: Reporters):
    """Sales to stores and consumers per sku and day (the POS/ERP feed): a day sent again replaces
    that day's figure. Checked as stock reports are."""
    rows = [r.model_dump(exclude_unset=True) for r in body.rows]
    recorded = reports.record_sell_through(session, user=user, rows=rows, now=_now())
    session.commit()
    return _recorded(recorded)


@router.post("/sell-through/upload", response_model=Recorded, status_code=201, openapi_extra=_FILE_BODY,
             responses=responses(413, 415, 422))
async def upload_sell_through(request: Request, user: Reporters):
    """A CSV or XLSX file with the columns sku, day, quantity[, dealer]. All rows or none."""
    rows, places = await _file_rows(request, reports.SALES_COLUMNS, ("sku", "day", "quantity"))

    def record():
        with request.app.state.sessions() as session:
            recorded = reports.record_sell_through(session, user=user, rows=rows, places=places, now=_now())
            session.commit()
            return recorded

    return _recorded(await run_in_threadpool(record))


@router.get("/health", response_model=list[HealthRead])
def list_health(session: SessionDep, user: CurrentUser, day: date | None = None, dealer: Text = None,
                region: Text = None, sku: Text = None, advised: bool = False, limit: Limit = 50, offset: Offset = 0):
    """A day's figures per dealer × sku (default: the latest day measured), slowest turnover first:
    stock with its source and the age of its report, turnover, cover, sell-through rate, values."""
    _, rows, _ = views.health(session, user, day=day, dealer=dealer, region=region, sku=sku, only_advised=advised,
                              limit=limit, offset=offset)
    return rows


@router.get("/advice", response_model=list[AdviceRead])
def list_advice(session: SessionDep, user: CurrentUser, day: date | None = None, dealer: Text = None,
                region: Text = None, sku: Text = None, action: Literal[ADVICE_ACTIONS] | None = None,
                severity: Literal["low", "medium", "high"] | None = None,
                status: Literal[ADVICE_STATUSES] | None = None, limit: Limit = 50, offset: Offset = 0):
    """Advice with its explanation (rule file, version, rules fired, figures and their sources);
    default: each dealer's latest day."""
    rows, _ = views.advice(session, user, day=day, dealer=dealer, region=region, sku=sku, action=action,
                           severity=severity, status=status, limit=limit, offset=offset)
    return rows


@router.put("/safety-stock", response_model=SafetyStockRead, responses=responses(422))
def set_safety_stock(body: SafetyStockIn, session: SessionDep, user: Dealers):
    """The dealer's own safety stock for a sku, within the rule file's limit; 0 removes it."""
    limit = replenishment.set_safety_stock(session, dealer_id=user.dealer_id, sku=body.sku,
                                           quantity=body.safety_stock, actor=user.username)
    session.commit()
    return SafetyStockRead(sku=body.sku, safety_stock=body.safety_stock, limit=limit)


@router.put("/auto-replenish", response_model=AutoReplenishRead)
def set_auto_replenish(body: AutoReplenishIn, session: SessionDep, user: Dealers):
    """Opt in (or out) of automatic replenishment drafts made by the daily run."""
    replenishment.set_opt_in(session, dealer_id=user.dealer_id, on=body.enabled, actor=user.username)
    session.commit()
    return AutoReplenishRead(enabled=body.enabled)


@router.get("/drafts", response_model=list[DraftRead])
def list_drafts(session: SessionDep, user: CurrentUser, status: Literal["draft", "placed", "dismissed"] | None = None,
                limit: Limit = 50, offset: Offset = 0):
    return views.drafts(session, user, status=status, limit=limit, offset=offset)


@router.post("/drafts", response_model=DraftRead, status_code=201, responses=responses(404))
def create_draft(session: SessionDep, user: Dealers, body: DraftCreate | None = None):
    """A draft order of the dealer's reorder advice (default: the latest day's); asked twice, the same draft."""
    d = replenishment.draft(session, dealer_id=user.dealer_id, day=body.day if body else None)
    session.commit()
    return views.draft_read(d, user.dealer.code)


def _draft_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("draft not found") from None


@router.post("/drafts/{draft_id}/place", response_model=OrderRead, status_code=201,
             responses=responses(404, 409, 422, 503))
async def place_draft(draft_id: str, request: Request, user: Dealers, client: TemporalDep, settings: SettingsDep,
                      body: DraftPlace | None = None):
    """Place the draft as an order (quantities may be changed): it goes through the credit decision
    like any other order. Placing a draft twice is refused (409)."""
    placed = await temporal.place_draft(client=client, task_queue=settings.task_queue,
                                        sessions=request.app.state.sessions, user=user, draft_id=_draft_id(draft_id),
                                        quantities=body.quantities if body else None, now=_now())
    return placed.order


@router.post("/drafts/{draft_id}/dismiss", response_model=DraftRead, responses=responses(404, 409))
def dismiss_draft(draft_id: str, session: SessionDep, user: Dealers):
    d = replenishment.get(session, _draft_id(draft_id), {user.dealer_id})
    replenishment.dismiss(session, d)
    session.commit()
    return views.draft_read(d, user.dealer.code)


@router.post("/runs", response_model=RunStarted, status_code=202, responses=responses(422, 503))
async def start_run(request: Request, user: Runners, client: TemporalDep, settings: SettingsDep,
                    body: RunIn | None = None):
    """Measure a day now (default yesterday, China) for all dealers or one region; a day twice runs once."""
    started = await temporal.start_run(client=client, task_queue=settings.task_queue,
                                       sessions=request.app.state.sessions, day=body.day if body else None,
                                       region=body.region if body else None, actor=user.username, now=_now())
    return RunStarted(day=started.day, scope=started.scope, workflow_id=started.workflow_id, action=started.action)


@router.get("/forecasts", response_model=list[ForecastRead])
def list_forecasts(session: SessionDep, user: CurrentUser, scope: Literal["region", "dealer"] | None = None,
                   region: Text = None, sku: Text = None, limit: Limit = 50, offset: Offset = 0):
    """The latest 30-day forecasts with their model, backtest MASE and the seasonal-naive baseline's."""
    return views.forecasts(session, user, scope=scope, region=region, sku=sku, limit=limit, offset=offset)


@router.post("/clearance-policy", response_model=ClearanceDraftRead, status_code=201, responses=responses(404, 422))
def draft_clearance_policy(body: ClearanceDraftIn, session: SessionDep, user: Runners):
    """A policy draft (a `kind: policy` rule file, validated, with tests) for a clearance promotion of
    one product, targeting the dealers advised to clear it; HQ edits, deploys and publishes it as any
    policy. The advice is marked policy_drafted."""
    d = clearance.draft(session, sku=body.sku, day=body.day, actor=user.username)
    session.commit()
    return ClearanceDraftRead(ruleset=d.ruleset, filename=d.filename, dealers=d.dealers, text=d.text)
