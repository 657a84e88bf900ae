"""Sales: the regional ranking (区域销售排行榜) this period against the last and the same period a
year earlier, the top-10 products by sales and by sell-through (终端动销TOP10), and a dealer's own
view (its sales and its rank in its region).

Sales are net: delivered lines (by delivery time) less returns (by return time), in China business
days. HQ's unscoped figures read the daily rollup `sales_daily` (day × region × product, kept by
triggers); figures for a set of dealers read their own lines, which the dealer index bounds."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from dealerflow.models import Dealer
from dealerflow.reports.filters import Filters, Span, ids_param

TOP = 10
# Terminal scans are of kinds store / consumer / inspector: none records a sale to a consumer, so
# sell-through is measured by what dealers took and kept.
SELL_THROUGH_MEASURE = "net_delivered_quantity"
SELL_THROUGH_NOTE = ("sell-through is the quantity delivered to dealers less their returns: terminal scans "
                     "record no sales to consumers")

_DAY = "(({col} at time zone 'UTC') + interval '8 hours')::date"


def _in_spans(col: str, spans: Sequence[str]) -> str:
    return "(" + " or ".join(f"({col} >= :{s}_since and {col} < :{s}_until)" for s in spans) + ")"


def _span_params(f: Filters, spans: Sequence[str]) -> dict:
    out = {}
    for name in spans:
        span: Span = getattr(f, name)
        out.update({f"{name}_from": span.start, f"{name}_to": span.end,
                    f"{name}_since": span.since, f"{name}_until": span.until})
    return out


def facts(f: Filters, dealer_ids: Sequence[int] | None, spans: Sequence[str], *,
          dealer_region: str | None = None) -> tuple[str, dict]:
    """SQL of the net sales rows (dealer_id, day, region, product_id, qty, amount) within `spans`
    (names of Filters spans) and the filters, and its parameters. Unscoped: the rollup (dealer_id
    is null); for dealers: their lines and returns. `dealer_region`: every dealer of that region."""
    params = _span_params(f, spans)
    region = f.region
    if dealer_ids is None and dealer_region is None:
        where = ["(" + " or ".join(f"s.day between :{s}_from and :{s}_to" for s in spans) + ")"]
        if region:
            where.append("s.region = :region")
            params["region"] = region
        sql = (f"select null::int as dealer_id, s.day, s.region, s.product_id, "
               f"s.delivered_qty - s.returned_qty as qty, s.delivered_amount - s.returned_amount as amount "
               f"from sales_daily s where {' and '.join(where)}")
    else:
        if dealer_region is not None:
            who, params["dealer_region"] = "d.region = :dealer_region", dealer_region
        else:
            who, params["dealer_ids"] = "d.id = any(:dealer_ids)", ids_param(dealer_ids)
        if region:
            who += " and d.region = :region"
            params["region"] = region
        sql = (f"select o.dealer_id, {_DAY.format(col='o.delivered_at')} as day, d.region, l.product_id, "
               f"l.quantity::bigint as qty, l.amount "
               f"from dealers d join orders o on o.dealer_id = d.id join order_lines l on l.order_id = o.id "
               f"where {who} and {_in_spans('o.delivered_at', spans)} "
               f"union all "
               f"select r.dealer_id, {_DAY.format(col='r.returned_at')}, d.region, r.product_id, "
               f"-r.quantity::bigint, -r.amount "
               f"from dealers d join order_returns r on r.dealer_id = d.id "
               f"where {who} and {_in_spans('r.returned_at', spans)}")
    if f.category:
        params["category"] = f.category
    return sql, params


def _category_join(f: Filters) -> str:
    return "join products p on p.id = x.product_id and p.category = :category" if f.category else ""


def _in(span: str) -> str:
    return f"x.day between :{span}_from and :{span}_to"


def growth(now: Decimal, before: Decimal) -> Decimal | None:
    """Growth in percent, two decimals; None when there was nothing before to grow from."""
    if not before:
        return None
    return ((now - before) * 100 / abs(before)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"), ROUND_HALF_UP)


def sales_by_region(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None) -> dict:
    """Regions ranked by net sales this period, with the last period, the same period a year earlier
    and the growth against each."""
    spans = ("current", "previous", "year_ago")
    sql, params = facts(filters, dealer_ids, spans)
    rows = session.execute(text(f"""
        select x.region,
               coalesce(sum(x.amount) filter (where {_in('current')}), 0) as current,
               coalesce(sum(x.amount) filter (where {_in('previous')}), 0) as previous,
               coalesce(sum(x.amount) filter (where {_in('year_ago')}), 0) as year_ago,
               coalesce(sum(x.qty) filter (where {_in('current')}), 0) as quantity
        from ({sql}) x {_category_join(filters)}
        group by x.region
        order by current desc, x.region"""), params).all()
    out = []
    for rank, r in enumerate(rows, 1):
        out.append({"rank": rank, "region": r.region, "net_amount": money(r.current),
                    "previous_amount": money(r.previous), "year_ago_amount": money(r.year_ago),
                    "growth_vs_previous_pct": growth(r.current, r.previous),
                    "growth_vs_year_ago_pct": growth(r.current, r.year_ago), "net_quantity": int(r.quantity)})
    totals = {k: money(sum((r[k] for r in out), Decimal(0)))
              for k in ("net_amount", "previous_amount", "year_ago_amount")}
    totals["growth_vs_previous_pct"] = growth(totals["net_amount"], totals["previous_amount"])
    totals["growth_vs_year_ago_pct"] = growth(totals["net_amount"], totals["year_ago_amount"])
    totals["net_quantity"] = sum(r["net_quantity"] for r in out)
    return {"filters": filters.as_dict(), "rows": out, "totals": totals}


def top_products(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None,
                 top: int = TOP) -> dict:
    """The products ranked by net sales amount and by sell-through (net quantity) this period; the
    rows are the products in either top `top`, with both ranks."""
    sql, params = facts(filters, dealer_ids, ("current",))
    rows = session.execute(text(f"""
        with p as (
            select x.product_id, sum(x.amount) as amount, sum(x.qty) as qty
            from ({sql}) x {_category_join(filters)}
            group by x.product_id),
        ranked as (
            select p.*, rank() over (order by amount desc) as by_sales, rank() over (order by qty desc) as by_qty
            from p)
        select r.product_id, pr.sku, pr.name, pr.category, r.amount, r.qty, r.by_sales, r.by_qty
        from ranked r join products pr on pr.id = r.product_id
        where r.by_sales <= :top or r.by_qty <= :top
        order by r.by_sales, pr.sku"""), {**params, "top": top}).all()
    items = [{"sku": r.sku, "name": r.name, "category": r.category, "net_amount": money(r.amount),
              "net_quantity": int(r.qty), "rank_by_sales": int(r.by_sales), "rank_by_sell_through": int(r.by_qty)}
             for r in rows]
    by_sales = [i for i in items if i["rank_by_sales"] <= top][:top]
    by_qty = sorted((i for i in items if i["rank_by_sell_through"] <= top),
                    key=lambda i: (i["rank_by_sell_through"], i["sku"]))[:top]
    return {"filters": filters.as_dict(), "sell_through_measure": SELL_THROUGH_MEASURE,
            "sell_through_note": SELL_THROUGH_NOTE,
            "by_sales": [i["sku"] for i in by_sales], "by_sell_through": [i["sku"] for i in by_qty],
            "rows": items}


def dealer_view(session: Session, *, filters: Filters, dealer_id: int) -> dict:
    """A dealer's own figures: its net sales this period and the last, the growth, and its rank in
    its region this period (1 + the dealers of the region that sold more; every dealer of the region
    counts, those that sold nothing too)."""
    dealer = session.get(Dealer, dealer_id)
    own = Filters(filters.kind, filters.key, filters.current, filters.previous, filters.year_ago,
                  None, filters.category)
    sql, params = facts(own, None, ("current", "previous"), dealer_region=dealer.region)
    row = session.execute(text(f"""
        with s as (
            select x.dealer_id,
                   coalesce(sum(x.amount) filter (where {_in('current')}), 0) as current,
                   coalesce(sum(x.amount) filter (where {_in('previous')}), 0) as previous
            from ({sql}) x {_category_join(own)}
            group by x.dealer_id),
        d as (
            select d.id, coalesce(s.current, 0) as current, coalesce(s.previous, 0) as previous
            from dealers d left join s on s.dealer_id = d.id where d.region = :dealer_region)
        select me.current, me.previous,
               1 + (select count(*) from d where d.current > me.current) as position,
               (select count(*) from d) as dealers
        from d me where me.id = :me"""), {**params, "me": dealer_id}).one()
    return {"filters": own.as_dict(), "dealer": {"code": dealer.code, "name": dealer.name, "region": dealer.region},
            "net_amount": money(row.current), "previous_amount": money(row.previous),
            "growth_vs_previous_pct": growth(row.current, row.previous),
            "region_rank": {"position": int(row.position), "of": int(row.dealers)}}
