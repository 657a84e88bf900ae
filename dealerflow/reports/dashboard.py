"""The dashboards: HQ's (every report's headline for the dealers in scope) and a dealer's own."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy.orm import Session

from dealerflow.reports import operations, policy, sales
from dealerflow.reports.filters import Filters


def staff_dashboard(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None,
                    now: datetime | None = None) -> dict:
    ranking = sales.sales_by_region(session, filters=filters, dealer_ids=dealer_ids)
    products = sales.top_products(session, filters=filters, dealer_ids=dealer_ids)
    tasks = operations.tasks_by_role(session, filters=filters, dealer_ids=dealer_ids, now=now)
    runs = operations.settlement_runs(session, filters=filters, dealer_ids=dealer_ids)
    cases = operations.diversion_cases(session, filters=filters, dealer_ids=dealer_ids)
    tiers = operations.tiers(session, filters=filters, dealer_ids=dealer_ids)
    silent = operations.silent_dealers(session, filters=filters, dealer_ids=dealer_ids)
    return {
        "view": "staff", "filters": filters.as_dict(),
        "sales": {"totals": ranking["totals"], "regions": ranking["rows"]},
        "top_products": {"sell_through_measure": products["sell_through_measure"],
                         "by_sales": [r for r in products["rows"] if r["rank_by_sales"] <= sales.TOP],
                         "by_sell_through": sorted((r for r in products["rows"]
                                                    if r["rank_by_sell_through"] <= sales.TOP),
                                                   key=lambda r: (r["rank_by_sell_through"], r["sku"]))},
        "policies": policy.policies_reach(session, dealer_ids=dealer_ids),
        "tasks": {"totals": tasks["totals"], "by_role": tasks["rows"]},
        "settlements": {"by_stage": runs["by_stage"], "runs": runs["rows"][:10]},
        "diversion": cases["totals"],
        "tiers": {"run_month": tiers["run_month"], "by_tier": tiers["by_tier"], "changed": tiers["changed"]},
        "silent": silent["totals"],
    }


def dealer_dashboard(session: Session, *, filters: Filters, dealer_id: int) -> dict:
    own = sales.dealer_view(session, filters=filters, dealer_id=dealer_id)
    return {"view": "dealer", **own}
