"""Console pages of channel inventory, phone first: the dealer's stock (report or correct it), health
per sku with the advice and why, and its replenishment drafts; an account manager's red items; HQ's
figures by region and product, the forecasts against actuals and the suggestions taken up. The
same services and read models as the JSON routes."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError, NotFound
from dealerflow.inventory import replenishment, reports
from dealerflow.models import Product
from dealerflow.shared.accounts import business_date

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.inventory import temporal, views
from api.pages import ConsoleUser, back, label_of, page, refusal, require, translator
from api.paging import paging

router = APIRouter(prefix="/console", include_in_schema=False)
STAFF_RED = ("account_manager", "region_manager", "hq", "admin")
HQ = ("hq", "admin")
ADVICE_SHOWN = 200  # the day's advice beside the figures; the API pages all of it


def _products(session):
    return list(session.scalars(select(Product).where(Product.active).order_by(Product.sku)))


def _dealer_page(request, session, user, status_code: int = 200, **context):
    """The dealer's figures a page at a time, filtered by sku and to those with advice; the advice
    below follows the sku filter."""
    sku = (request.query_params.get("sku") or "").strip()[:64] or None
    advised = request.query_params.get("advised") == "on"
    day, _rows, total = views.health(session, user, sku=sku, only_advised=advised, limit=1)
    pager = paging(request, total, sku=sku or "", advised="on" if advised else "")
    _, rows, _n = views.health(session, user, day=day, sku=sku, only_advised=advised, limit=pager.limit,
                               offset=pager.offset)
    advice, _n = views.advice(session, user, sku=sku, limit=ADVICE_SHOWN)
    return page(request, "inventory.html", user, status_code, rows=rows, advice=advice, pager=pager,
                sku=sku or "", advised=advised,
                drafts=views.drafts(session, user, limit=10), products=_products(session),
                today=business_date(datetime.now(timezone.utc)).isoformat(),
                auto=replenishment.opted_in(session, user.dealer_id), form=context.pop("form", {}), **context)


@router.get("/inventory")
def inventory_page(request: Request, session: SessionDep, user: ConsoleUser):
    if user.role != "dealer":
        return back("/console/inventory/red" if user.role in ("account_manager", "region_manager")
                    else "/console/inventory/hq")
    return _dealer_page(request, session, user)


@router.post("/inventory/stock")
def report_stock(request: Request, session: SessionDep, user: ConsoleUser, sku: Annotated[str, Form()] = "",
                 day: Annotated[str, Form()] = "", on_hand: Annotated[str, Form()] = "",
                 in_transit: Annotated[str, Form()] = ""):
    """The phone form: one sku's count for a day (today by default); a later count corrects it."""
    require(user, "dealer")
    _ = translator(request)
    form = {"sku": sku, "day": day, "on_hand": on_hand, "in_transit": in_transit}
    row = {"sku": sku, "day": day.strip() or business_date(datetime.now(timezone.utc)).isoformat(),
           "on_hand": on_hand, "in_transit": in_transit}
    try:
        reports.record_stock(session, user=user, rows=[row], source="form", now=datetime.now(timezone.utc),
                             places=[{"field": "stock"}])
    except DomainError as e:
        session.rollback()
        message, status = refusal(e, request)
        return _dealer_page(request, session, user, status, error=message, form=form)
    session.commit()
    return back("/console/inventory", flash=_("Stock of %(sku)s recorded.", sku=sku))


@router.post("/inventory/auto-replenish")
def auto_replenish(request: Request, session: SessionDep, user: ConsoleUser, enabled: Annotated[str, Form()] = ""):
    require(user, "dealer")
    _ = translator(request)
    replenishment.set_opt_in(session, dealer_id=user.dealer_id, on=enabled == "on", actor=user.username)
    session.commit()
    return back("/console/inventory", flash=_("Automatic replenishment drafts turned on.") if enabled == "on"
                else _("Automatic replenishment drafts turned off."))


@router.post("/inventory/drafts")
def make_draft(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer")
    _ = translator(request)
    try:
        replenishment.draft(session, dealer_id=user.dealer_id)
    except DomainError as e:
        session.rollback()
        return _dealer_page(request, session, user, refusal(e, request)[1], error=refusal(e, request)[0])
    session.commit()
    return back("/console/inventory#drafts", flash=_("Draft order ready: check the quantities and place it."))


@router.post("/inventory/drafts/{draft_id}/place")
async def place_draft(draft_id: str, request: Request, user: ConsoleUser, client: TemporalDep, settings: SettingsDep):
    require(user, "dealer")
    _ = translator(request)
    form = await request.form()
    quantities = {}
    for name, value in form.items():
        if name.startswith("qty:"):
            try:
                quantities[name[4:]] = max(0, int(str(value).strip()))
            except ValueError:
                pass
    try:
        draft = uuid.UUID(draft_id)
    except ValueError:
        raise NotFound("draft not found") from None
    sessions = request.app.state.sessions
    try:
        placed = await temporal.place_draft(client=client, task_queue=settings.task_queue, sessions=sessions,
                                            user=user, draft_id=draft, quantities=quantities or None,
                                            now=datetime.now(timezone.utc))
    except DomainError as e:
        message, status = refusal(e, request)

        def again():
            with sessions() as session:
                return _dealer_page(request, session, user, status, error=message)
        return await run_in_threadpool(again)
    return back(f"/console/orders/{placed.order.id}", flash=_("Order %(id)s placed: %(status)s.",
                                                           id=placed.order.id[:8],
                                                           status=label_of(request, placed.order.status)))


@router.get("/inventory/red")
def red_items(request: Request, session: SessionDep, user: ConsoleUser, dealer: str | None = None,
              action: str | None = None, severity: str | None = None):
    """An account manager's dealers' advice, the most severe first; filters and pages."""
    require(user, *STAFF_RED)
    severity = severity if severity in ("low", "medium", "high") else None
    action = action if action in ("clearance", "cut_replenishment", "reorder", "push_promotion") else None
    dealer = (dealer or "").strip()[:32] or None
    _rows, total = views.advice(session, user, dealer=dealer, action=action, severity=severity, limit=1)
    pager = paging(request, total, dealer=dealer or "", action=action or "", severity=severity or "")
    rows, _ = views.advice(session, user, dealer=dealer, action=action, severity=severity, limit=pager.limit,
                           offset=pager.offset)
    return page(request, "inventory_red.html", user, rows=rows, pager=pager, dealer=dealer or "",
                action=action or "", severity=severity or "")


@router.get("/inventory/hq")
def hq_page(request: Request, session: SessionDep, user: ConsoleUser, by: str = "region",
            region: Annotated[str | None, Query(max_length=64)] = None):
    require(user, *HQ, "region_manager")
    by = by if by in ("region", "product") else "region"
    return page(request, "inventory_hq.html", user, by=by, region=region or "",
                overview=views.hq_overview(session, user, by=by, region=region or None),
                forecasts=views.forecasts(session, user, limit=30))
