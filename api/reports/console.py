"""Console pages of the reports: the dashboard (HQ's, or a scoped role's for its dealers, or a dealer's
own), one page per report (the ranked table with totals, paged, and its CSV / XLSX download from the
JSON API, which accepts the console's cookie), and the dealer map with the admin's upload of an
approved map. Thin: the same report functions and the same dealer scope as api/reports/routes.py.
Charts are drawn by /static/dashboard.js (ECharts, a vendored file) from JSON data blocks."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dealerflow.core import periods
from dealerflow.core.errors import DomainError, NotFound
from dealerflow.models import Dealer, Product, User
from dealerflow.rebates import programs as rebates
from dealerflow.reports import areas, dashboard, filters as report_filters, maps, operations, policy, sales
from dealerflow.reports.filters import Filters, today_in_china
from dealerflow.shared import accounts

from api.deps import SessionDep, SettingsDep
from api.pages import ConsoleUser, back, page, refusal, require
from api.reports.routes import COLUMNS, STAFF, visible_dealer_ids
from api.uploads import read_upload

router = APIRouter(prefix="/console", include_in_schema=False)
READERS = STAFF + ("dealer",)
PAGE_SIZE = 50
FILTER_KEYS = ("period", "from", "to", "region", "category")
MAP_TYPES = ("application/geo+json", "application/json")


# --- filters -----------------------------------------------------------------------------------

def _raw(request: Request, keys=FILTER_KEYS) -> dict:
    """The filter parameters as sent (blank ones dropped), for the form and the links."""
    out = {}
    for key in keys:
        value = (request.query_params.get(key) or "").strip()
        if value:
            out[key] = value[:64]
    return out


def _filters(session: Session, raw: dict) -> tuple[Filters | None, str | None]:
    try:
        return report_filters.make(session, period=raw.get("period"), date_from=raw.get("from"),
                                   date_to=raw.get("to"), region=raw.get("region"),
                                   category=raw.get("category")), None
    except DomainError as e:
        return None, refusal(e)[0]


def _period_choices(today: date) -> list[str]:
    """Suggestions for the period field: this and the last month, quarter and year."""
    out = []
    for kind in ("month", "quarter", "year"):
        now = periods.period_of(kind, today)
        out += [now.key, periods.period_of(kind, now.start - timedelta(days=1)).key]
    return out


def _choices(session: Session, user: User) -> dict:
    """The regions (of the dealers the user sees only) and the product categories of the form."""
    ids = visible_dealer_ids(session, user)
    q = select(Dealer.region).distinct().order_by(Dealer.region)
    if ids is not None:
        q = q.where(Dealer.id.in_(ids))
    return {"regions": list(session.scalars(q)),
            "categories": list(session.scalars(select(Product.category).distinct().order_by(Product.category))),
            "periods": _period_choices(today_in_china())}


def _query(raw: dict, **extra) -> str:
    return urlencode({**raw, **{k: v for k, v in extra.items() if v not in (None, "")}})


# --- chart data: plain numbers, for the JSON blocks ------------------------------------------------

def _num(value) -> float | None:
    return None if value is None else float(value)


def _sales_chart(rows: list[dict]) -> dict:
    return {"regions": [r["region"] for r in rows], "current": [_num(r["net_amount"]) for r in rows],
            "previous": [_num(r["previous_amount"]) for r in rows],
            "year_ago": [_num(r["year_ago_amount"]) for r in rows],
            "growth": [_num(r["growth_vs_previous_pct"]) for r in rows]}


def _products_chart(rows: list[dict], order: list[str], measure: str) -> dict:
    by_sku = {r["sku"]: r for r in rows}
    items = [by_sku[s] for s in order if s in by_sku]
    return {"names": [f"{r['name']} ({r['sku']})" for r in items], "values": [_num(r[measure]) for r in items]}


def _policy_chart(effect: dict) -> dict:
    acknowledged = {g: sum(r["acknowledged"] for r in effect["rows"] if r["group"] == g) for g in ("pilot", "rest")}
    groups = effect["groups"]
    return {"groups": ["pilot", "rest"],
            "acknowledged": [round(100 * acknowledged[g] / groups[g]["delivered"], 1) if groups[g]["delivered"] else 0
                             for g in ("pilot", "rest")],
            "before": [_num(groups[g]["conversion_before"] * 100) for g in ("pilot", "rest")],
            "after": [_num(groups[g]["conversion_after"] * 100) for g in ("pilot", "rest")]}


def _area_chart(report: dict) -> dict:
    return {"areas": [{"name": r["area"], "value": _num(r["net_amount"]), "dealers": r["dealers"]}
                      for r in report["rows"]]}


def _map_view(settings, session: Session, user: User, filters: Filters) -> dict:
    report = areas.dealers_by_area(session, filters=filters, dealer_ids=visible_dealer_ids(session, user))
    meta = maps.current(settings.data_dir)
    unmapped = [r["area"] for r in report["rows"] if meta and r["area"] not in set(meta["names"])]
    return {"report": report, "chart": _area_chart(report), "meta": meta, "unmapped": unmapped}


# --- the dashboard -----------------------------------------------------------------------------

def _policy_effect(session, user, raw: dict, filters: Filters, policy_id: str | None, ids) -> tuple[dict | None, str | None]:
    if not policy_id:
        return None, None
    try:
        return policy.policy_effect(session, policy_id=policy_id, filters=filters,
                                    use_period=bool(raw.get("period") or raw.get("from")), dealer_ids=ids), None
    except DomainError as e:
        return None, refusal(e)[0]


def _staff_view(session: Session, settings, user: User, raw: dict, filters: Filters, policy_id: str | None) -> dict:
    ids = visible_dealer_ids(session, user)
    ranking = sales.sales_by_region(session, filters=filters, dealer_ids=ids)
    products = sales.top_products(session, filters=filters, dealer_ids=ids)
    reach = policy.policies_reach(session, dealer_ids=ids)
    chosen = policy_id or (reach[0]["id"] if reach else None)
    effect, effect_error = _policy_effect(session, user, raw, filters, chosen, ids)
    tiers = operations.tiers(session, filters=filters, dealer_ids=ids)
    return {
        "ranking": ranking, "products": products, "reach": reach, "chosen_policy": chosen,
        "effect": effect, "effect_error": effect_error,
        "tasks": operations.tasks_by_role(session, filters=filters, dealer_ids=ids),
        "runs": operations.settlement_runs(session, filters=filters, dealer_ids=ids),
        "cases": operations.diversion_cases(session, filters=filters, dealer_ids=ids),
        "tiers": tiers, "silent": operations.silent_dealers(session, filters=filters, dealer_ids=ids),
        "map": _map_view(settings, session, user, filters),
        "charts": {"sales": _sales_chart(ranking["rows"]),
                   "by_sales": _products_chart(products["rows"], products["by_sales"], "net_amount"),
                   "by_sell_through": _products_chart(products["rows"], products["by_sell_through"], "net_quantity"),
                   "policy": _policy_chart(effect) if effect else None,
                   "tiers": {"tiers": [{"name": t, "value": n} for t, n in sorted(tiers["by_tier"].items())]}},
    }


def _dealer_view(session: Session, user: User, filters: Filters) -> dict:
    own = dashboard.dealer_dashboard(session, filters=filters, dealer_id=user.dealer_id)
    products = sales.top_products(session, filters=filters, dealer_ids=[user.dealer_id])
    dealer = session.get(Dealer, user.dealer_id)
    programs = rebates.progress(session, dealer, today=accounts.business_date(datetime.now(timezone.utc)))
    return {"own": own, "products": products, "programs": programs,
            "charts": {"by_sales": _products_chart(products["rows"], products["by_sales"], "net_amount"),
                       "own": {"current": _num(own["net_amount"]), "previous": _num(own["previous_amount"])}}}


@router.get("/dashboard")
def dashboard_page(request: Request, session: SessionDep, settings: SettingsDep, user: ConsoleUser):
    """HQ and admin: every dealer; a scoped role: its dealers; a dealer: its own view."""
    require(user, *READERS)
    keys = ("period", "from", "to", "category") if user.role == "dealer" else FILTER_KEYS
    raw = _raw(request, keys)
    policy_id = (request.query_params.get("policy") or "").strip()[:64] or None
    filters, error = _filters(session, raw)
    context = {"raw": raw, "query": _query(raw), "choices": _choices(session, user), "policy_id": policy_id,
               "filters": filters}
    if filters is None:
        return page(request, "dashboard.html", user, 422, error=error, view=None, **context)
    view = _dealer_view(session, user, filters) if user.role == "dealer" else \
        _staff_view(session, settings, user, raw, filters, policy_id)
    return page(request, "dashboard.html", user, view=view, **context)


# --- one page per report -----------------------------------------------------------------------

def _totals(name: str, report: dict) -> dict:
    if isinstance(report.get("totals"), dict):
        return report["totals"]
    keys = {"tiers": ("dealers",), "settlements": ("statements", "issued", "confirmed", "disputed", "rebate"),
            "policy-effect": ("targeted", "delivered", "acknowledged", "ordered_before", "ordered_after")}.get(name, ())
    return {k: sum((r[k] for r in report["rows"]), Decimal(0) if k == "rebate" else 0) for k in keys}


REPORTS = {
    "sales-by-region": (sales.sales_by_region, True),
    "top-products": (sales.top_products, True),
    "policy-effect": (None, False),
    "tasks": (operations.tasks_by_role, False),
    "settlements": (operations.settlement_runs, False),
    "diversion": (operations.diversion_cases, False),
    "tiers": (operations.tiers, False),
    "silent-dealers": (operations.silent_dealers, False),
}


def _report_page(request: Request, session: Session, user: User, name: str):
    compute, dealers = REPORTS[name]
    require(user, *(READERS if dealers else STAFF))
    raw = _raw(request, ("period", "from", "to", "category") if user.role == "dealer" else FILTER_KEYS)
    policy_id = (request.query_params.get("policy") or "").strip()[:64] or None
    try:
        number = max(1, int(request.query_params.get("page") or 1))
    except ValueError:
        number = 1
    filters, error = _filters(session, raw)
    ids = visible_dealer_ids(session, user)
    context = {"report_name": name, "raw": raw, "choices": _choices(session, user), "policy_id": policy_id,
               "columns": COLUMNS[name], "report": None, "rows": [], "policies": []}
    if name == "policy-effect":
        context["policies"] = policy.policies_reach(session, dealer_ids=ids)
    if filters is not None:
        if name == "policy-effect":
            report, error = _policy_effect(session, user, raw, filters, policy_id, ids)
        else:
            report = compute(session, filters=filters, dealer_ids=ids)
        if report is not None:
            pages = max(1, math.ceil(len(report["rows"]) / PAGE_SIZE))
            number = min(number, pages)
            context.update(report=report, totals=_totals(name, report), page_number=number, pages=pages,
                           rows=report["rows"][(number - 1) * PAGE_SIZE:number * PAGE_SIZE])
    query = _query(raw, policy=policy_id if name == "policy-effect" else None)
    context.update(query=query, filters=filters)
    status = 422 if error and filters is None else 404 if error else 200
    return page(request, "report.html", user, status, error=error, **context)


def _register(name: str) -> None:
    def endpoint(request: Request, session: SessionDep, user: ConsoleUser):
        return _report_page(request, session, user, name)
    endpoint.__name__ = "report_page_" + name.replace("-", "_")
    router.add_api_route(f"/reports/{name}", endpoint, methods=["GET"])


for _name in REPORTS:
    _register(_name)


# --- the dealer map ----------------------------------------------------------------------------

def _map_page(request: Request, session: Session, settings, user: User, error: str | None = None,
              status_code: int = 200, approval: str = ""):
    raw = _raw(request)
    filters, filter_error = _filters(session, raw)
    view = _map_view(settings, session, user, filters) if filters else None
    return page(request, "dealer_map.html", user, status_code if not filter_error else 422,
                error=error or filter_error, raw=raw, query=_query(raw), choices=_choices(session, user),
                map=view, approval=approval, limit_mb=maps.MAX_BYTES // (1024 * 1024))


@router.get("/dashboard/map")
def map_page(request: Request, session: SessionDep, settings: SettingsDep, user: ConsoleUser):
    """Dealers and sales by area, drawn on the admin's map if one was uploaded, else a ranked table."""
    require(user, *STAFF)
    return _map_page(request, session, settings, user)


@router.get("/dashboard/map/geojson")
def map_file(settings: SettingsDep, user: ConsoleUser):
    require(user, *STAFF)
    if maps.current(settings.data_dir) is None:
        raise NotFound("no map has been uploaded")
    return FileResponse(maps.map_path(settings.data_dir), media_type="application/geo+json",
                        headers={"Cache-Control": "private, no-cache"})


@router.post("/dashboard/map")
async def upload_map(request: Request, settings: SettingsDep, user: ConsoleUser):
    """An admin replaces the area map: a GeoJSON FeatureCollection (the form's field `file`), with its
    approval number (审图号)."""
    require(user, "admin")
    approval = ""
    try:
        upload = await read_upload(request, limit=maps.MAX_BYTES, accept=MAP_TYPES,
                                   hint="send the map as the form field 'file'")
        if upload.media_type == "multipart/form-data":
            approval = str((await request.form()).get("approval") or "")
        await run_in_threadpool(maps.store, settings.data_dir, upload.data, approval=approval, actor=user.username)
    except DomainError as e:
        message, status_code = refusal(e)

        def render():
            with request.app.state.sessions() as session:
                return _map_page(request, session, settings, user, message, status_code, approval=approval)
        return await run_in_threadpool(render)
    return back("/console/dashboard/map")
