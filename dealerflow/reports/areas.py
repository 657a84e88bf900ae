"""The dealer map's figures (可视化地图): dealers and net sales by area. Dealers carry no province or
city yet, so an area is the dealer's region; a map uploaded by an admin colours the features whose
name is a region's. One GROUP BY for the dealers, the regional ranking for the sales."""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from dealerflow.reports import sales
from dealerflow.reports.filters import Filters, ids_param

AREA_SOURCE = "region"  # what names an area today; a later change gives dealers a province and a city


def dealers_by_area(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None) -> dict:
    """Per area (the dealer's region): the dealers in scope and their net sales this period, ranked
    by sales, then by dealers, then by name; with totals."""
    params: dict = {}
    where = ["true"]
    if dealer_ids is not None:
        where.append("d.id = any(:dealer_ids)")
        params["dealer_ids"] = ids_param(dealer_ids)
    if filters.region:
        where.append("d.region = :region")
        params["region"] = filters.region
    counts = {r.area: int(r.dealers) for r in session.execute(text(f"""
        select d.region as area, count(*) as dealers from dealers d
        where {' and '.join(where)} group by d.region"""), params)}
    amounts = {r["region"]: r["net_amount"]
               for r in sales.sales_by_region(session, filters=filters, dealer_ids=dealer_ids)["rows"]}
    areas = set(counts) | set(amounts)
    rows = sorted(({"area": a, "dealers": counts.get(a, 0), "net_amount": amounts.get(a, Decimal("0.00"))}
                   for a in areas), key=lambda r: (-r["net_amount"], -r["dealers"], r["area"]))
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    return {"filters": filters.as_dict(), "area_source": AREA_SOURCE, "rows": rows,
            "totals": {"dealers": sum(r["dealers"] for r in rows),
                       "net_amount": sales.money(sum((r["net_amount"] for r in rows), Decimal(0)))}}
