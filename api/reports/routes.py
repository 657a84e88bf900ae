"""Reports and dashboards as JSON for the console's charts, or as CSV / XLSX (`?format=`). Every report
takes `?period=` (2026-07, 2026-Q3, 2026) or `?from=&to=` (dates, China time; default: this month),
`?region=` and `?category=`; a bad one is a 422 naming it. Who sees what is api/scope.py's: HQ and
admin every dealer, a scoped role its dealers, a dealer its own (and its level-2 dealers')."""
from __future__ import annotations

import re
from typing import Annotated, Callable, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.core.errors import Forbidden
from dealerflow.models import Dealer, User
from dealerflow.reports import dashboard, filters as report_filters, operations, policy, sales
from dealerflow.reports.filters import Filters

from api.deps import SessionDep, require_role
from api.errors import responses
from api.reports import schemas
from dealerflow.shared import exports
from api.scope import dealer_filter

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

STAFF = ("admin", "hq", "account_manager", "region_manager", "finance", "credit_manager")
Staff = Annotated[User, require_role(*STAFF)]
Reader = Annotated[User, require_role(*STAFF, "dealer")]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json (default), csv or xlsx")]
ERRORS = responses(401, 403, 404, 422)
FILES = {200: {"content": {exports.MEDIA_TYPE: {}, exports.XLSX_TYPE: {}},
               "description": "the report; with ?format=csv or xlsx, its rows as a spreadsheet"}}


def visible_dealer_ids(session: Session, user: User) -> list[int] | None:
    """The dealers `user` may see (api/scope.py); None: every dealer."""
    condition = dealer_filter(user, Dealer.id)
    return None if condition is None else list(session.scalars(select(Dealer.id).where(condition)))


def get_filters(session: SessionDep,
                period: Annotated[str | None, Query(max_length=16, description="2026-07, 2026-Q3 or 2026")] = None,
                date_from: Annotated[str | None, Query(alias="from", max_length=10, description="2026-07-01")] = None,
                date_to: Annotated[str | None, Query(alias="to", max_length=10, description="2026-07-31")] = None,
                region: Annotated[str | None, Query(max_length=64)] = None,
                category: Annotated[str | None, Query(max_length=32)] = None) -> Filters:
    return report_filters.make(session, period=period, date_from=date_from, date_to=date_to, region=region,
                               category=category)


FiltersDep = Annotated[Filters, Depends(get_filters)]

# The columns of each report's rows, in a spreadsheet's order.
COLUMNS = {
    "sales-by-region": ("rank", "region", "net_amount", "previous_amount", "year_ago_amount",
                        "growth_vs_previous_pct", "growth_vs_year_ago_pct", "net_quantity"),
    "top-products": ("rank_by_sales", "rank_by_sell_through", "sku", "name", "category", "net_amount",
                     "net_quantity"),
    "policy-effect": ("region", "group", "targeted", "delivered", "acknowledged", "acknowledgment_rate",
                      "ordered_before", "conversion_before", "ordered_after", "conversion_after"),
    "tasks": ("role", "open", "overdue", "escalated", "completed", "completed_late"),
    "settlements": ("id", "program", "period", "final", "stage", "started_at", "closed_at", "statements", "issued",
                    "confirmed", "disputed", "rebate"),
    "diversion": ("region", "cases", "open", "confirmed", "dismissed", "points"),
    "tiers": ("region", "tier", "dealers"),
    "silent-dealers": ("region", "silent", "flagged", "activated"),
}


def _answer(name: str, report: dict, fmt: str, model) -> Response | object:
    if fmt == "json":
        return model.model_validate(report)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{name}-{report['filters']['period']}")
    columns = COLUMNS[name]
    if fmt == "csv":
        body, media = exports.table_csv(columns, report["rows"]), exports.MEDIA_TYPE
    else:
        body, media = exports.table_xlsx(columns, report["rows"], title=name), exports.XLSX_TYPE
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


def _dealer_forbidden(user: User) -> None:
    if user.role == "dealer":
        raise Forbidden("a dealer sees its dashboard, sales and top products only")


@router.get("/dashboard", response_model=schemas.StaffDashboard | schemas.DealerDashboard, responses=ERRORS)
def get_dashboard(session: SessionDep, user: Reader, filters: FiltersDep):
    """HQ and admin: every dealer's figures; a scoped role: its dealers'; a dealer: its own view
    (its sales this period and the last, its rank in its region)."""
    if user.role == "dealer":
        return dashboard.dealer_dashboard(session, filters=filters, dealer_id=user.dealer_id)
    return dashboard.staff_dashboard(session, filters=filters, dealer_ids=visible_dealer_ids(session, user))


def _report(name: str, model, compute: Callable[..., dict], *, dealers: bool = False):
    def endpoint(session: SessionDep, user: Reader, filters: FiltersDep, format: Format = "json"):
        if not dealers:
            _dealer_forbidden(user)
        report = compute(session, filters=filters, dealer_ids=visible_dealer_ids(session, user))
        return _answer(name, report, format, model)
    endpoint.__name__ = "report_" + name.replace("-", "_")
    endpoint.__doc__ = compute.__doc__
    router.add_api_route(f"/{name}", endpoint, methods=["GET"], response_model=model,
                         responses={**ERRORS, **FILES})


_report("sales-by-region", schemas.SalesByRegion, sales.sales_by_region, dealers=True)
_report("top-products", schemas.TopProducts, sales.top_products, dealers=True)
_report("tasks", schemas.TasksByRole, operations.tasks_by_role)
_report("settlements", schemas.SettlementRuns, operations.settlement_runs)
_report("diversion", schemas.DiversionCases, operations.diversion_cases)
_report("tiers", schemas.Tiers, operations.tiers)
_report("silent-dealers", schemas.SilentDealers, operations.silent_dealers)


@router.get("/policy-effect", response_model=schemas.PolicyEffect, responses={**ERRORS, **FILES})
def report_policy_effect(session: SessionDep, user: Staff, filters: FiltersDep, format: Format = "json",
                         policy_id: Annotated[str | None, Query(alias="policy", max_length=64)] = None,
                         period: Annotated[str | None, Query(max_length=16)] = None,
                         date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None):
    """A policy's reach and conversion by region, pilot against the rest, before against after: the
    window after is the policy's effective window, or the period asked for."""
    report = policy.policy_effect(session, policy_id=policy_id, filters=filters,
                                  use_period=bool(period or date_from), dealer_ids=visible_dealer_ids(session, user))
    return _answer("policy-effect", report, format, schemas.PolicyEffect)
