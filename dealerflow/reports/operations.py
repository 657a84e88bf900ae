"""Operations: open human tasks and SLA breaches by role, settlement runs and where they stand,
diversion cases by region and status, the tier distribution and its movement between two re-tiering
runs, silent dealers by region. One or two GROUP BY queries each."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from dealerflow.reports.filters import Filters, ids_param
from dealerflow.reports.sales import money


def _dealers(column: str, f: Filters, dealer_ids: Sequence[int] | None, params: dict, *,
             nullable: bool = False) -> str:
    """Conditions keeping rows whose dealer (`column`) is in scope and in the region filter. A row
    without a dealer (nullable) is kept only unscoped and without a region filter."""
    out = []
    if dealer_ids is not None:
        out.append(f"{column} = any(:dealer_ids)")
        params["dealer_ids"] = ids_param(dealer_ids)
    if f.region:
        out.append(f"{column} in (select id from dealers where region = :region)")
        params["region"] = f.region
    return "".join(f" and {c}" for c in out)


def tasks_by_role(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None,
                  now: datetime | None = None) -> dict:
    """Per role: open tasks, those past their SLA (due) now, escalated ones; tasks completed in the
    period and how many of them late."""
    now = now or datetime.now(timezone.utc)
    params = {"now": now, "since": filters.current.since, "until": filters.current.until}
    scope = _dealers("t.dealer_id", filters, dealer_ids, params)
    rows = session.execute(text(f"""
        select t.assignee_role as role,
               count(*) filter (where t.status = 'open') as open,
               count(*) filter (where t.status = 'open' and t.due_at < :now) as overdue,
               count(*) filter (where t.status = 'open' and t.escalated_to_role is not null) as escalated,
               count(*) filter (where t.status = 'completed' and t.completed_at >= :since
                                  and t.completed_at < :until) as completed,
               count(*) filter (where t.status = 'completed' and t.completed_at >= :since
                                  and t.completed_at < :until and t.completed_at > t.due_at) as completed_late
        from human_tasks t
        where (t.status = 'open' or (t.completed_at >= :since and t.completed_at < :until)){scope}
        group by t.assignee_role order by t.assignee_role"""), params).all()
    out = [dict(r._mapping) for r in rows]
    totals = {k: sum(r[k] for r in out) for k in ("open", "overdue", "escalated", "completed", "completed_late")}
    return {"filters": filters.as_dict(), "as_of": now, "rows": out, "totals": totals}


def settlement_runs(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None) -> dict:
    """Settlement runs whose span meets the period, newest first, with their current statements by
    status and the rebate they accrue (for the dealers in scope), and the runs by stage."""
    params = {"from": filters.current.start, "to": filters.current.end}
    scope = _dealers("s.dealer_id", filters, dealer_ids, params)
    rows = session.execute(text(f"""
        select r.id, r.program, r.period, r.final, r.stage, r.started_at, r.closed_at,
               count(s.id) as statements,
               count(s.id) filter (where s.status = 'issued') as issued,
               count(s.id) filter (where s.status = 'confirmed') as confirmed,
               count(s.id) filter (where s.status = 'disputed') as disputed,
               coalesce(sum(s.rebate), 0) as rebate
        from settlement_runs r
        left join statements s on s.run_id = r.id and s.current{scope}
        where r.span_from <= :to and r.span_to >= :from
        group by r.id order by r.started_at desc, r.id"""), params).all()
    out = [{**dict(r._mapping), "rebate": money(r.rebate)} for r in rows]
    by_stage: dict[str, int] = {}
    for r in out:
        by_stage[r["stage"]] = by_stage.get(r["stage"], 0) + 1
    return {"filters": filters.as_dict(), "by_stage": by_stage, "rows": out}


def diversion_cases(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None) -> dict:
    """Cases opened in the period by the region where the goods turned up and by status, with the
    credit points confirmed cases cost; the category filter is the product's."""
    params = {"since": filters.current.since, "until": filters.current.until}
    scope = _dealers("c.dealer_id", filters, dealer_ids, params)
    category = ""
    if filters.category:
        category = " and c.product_id in (select id from products where category = :category)"
        params["category"] = filters.category
    rows = session.execute(text(f"""
        select c.region,
               count(*) as cases,
               count(*) filter (where c.status = 'open') as open,
               count(*) filter (where c.status = 'confirmed') as confirmed,
               count(*) filter (where c.status = 'dismissed') as dismissed,
               coalesce(sum(c.points) filter (where c.status = 'confirmed'), 0) as points
        from diversion_cases c
        where c.opened_at >= :since and c.opened_at < :until{scope}{category}
        group by c.region order by cases desc, c.region"""), params).all()
    out = [dict(r._mapping) for r in rows]
    totals = {k: sum(r[k] for r in out) for k in ("cases", "open", "confirmed", "dismissed", "points")}
    return {"filters": filters.as_dict(), "rows": out, "totals": totals}


# A dealer's tier after a run: the new tier where the change holds, the old one where it waits or was refused.
_EFFECTIVE = "case when s.status in ('unchanged', 'applied', 'proposed') then s.new_tier else s.old_tier end"


def tiers(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None) -> dict:
    """The tier distribution by region after the last re-tiering run in the period, and the movement
    from the last run before the period (tier from → tier to, dealers)."""
    end_month, start_month = filters.current.end.strftime("%Y-%m"), filters.current.start.strftime("%Y-%m")
    months = session.execute(text("""
        select (select max(month) from tiering_runs where month <= :end) as later,
               (select max(month) from tiering_runs where month < :start) as earlier"""),
        {"end": end_month, "start": start_month}).one()
    params = {"later": months.later, "earlier": months.earlier}
    scope = _dealers("s.dealer_id", filters, dealer_ids, params)
    distribution = [dict(r._mapping) for r in session.execute(text(f"""
        select d.region, {_EFFECTIVE} as tier, count(*) as dealers
        from tier_scores s join dealers d on d.id = s.dealer_id
        where s.run_month = :later{scope}
        group by 1, 2 order by 1, 2"""), params)] if months.later else []
    movement = [dict(r._mapping) for r in session.execute(text(f"""
        select {_EFFECTIVE.replace('s.', 'e.')} as from_tier, {_EFFECTIVE} as to_tier, count(*) as dealers
        from tier_scores s join tier_scores e on e.dealer_id = s.dealer_id and e.run_month = :earlier
        where s.run_month = :later{scope}
        group by 1, 2 order by 1, 2"""), params)] \
        if months.later and months.earlier else []
    by_tier: dict[str, int] = {}
    for r in distribution:
        by_tier[r["tier"]] = by_tier.get(r["tier"], 0) + r["dealers"]
    return {"filters": filters.as_dict(), "run_month": months.later, "compared_with": months.earlier,
            "by_tier": by_tier, "rows": distribution, "movement": movement,
            "changed": sum(m["dealers"] for m in movement if m["from_tier"] != m["to_tier"])}


def silent_dealers(session: Session, *, filters: Filters, dealer_ids: Sequence[int] | None = None) -> dict:
    """Per region: dealers silent now (flag open), flagged in the period, reactivated in the period."""
    params = {"since": filters.current.since, "until": filters.current.until}
    scope = _dealers("s.dealer_id", filters, dealer_ids, params)
    rows = session.execute(text(f"""
        select d.region,
               count(*) filter (where s.activated_at is null) as silent,
               count(*) filter (where s.flagged_at >= :since and s.flagged_at < :until) as flagged,
               count(*) filter (where s.activated_at >= :since and s.activated_at < :until) as activated
        from silent_dealers s join dealers d on d.id = s.dealer_id
        where (s.activated_at is null or s.activated_at >= :since
               or (s.flagged_at >= :since and s.flagged_at < :until)){scope}
        group by d.region order by silent desc, d.region"""), params).all()
    out = [dict(r._mapping) for r in rows]
    totals = {k: sum(r[k] for r in out) for k in ("silent", "flagged", "activated")}
    return {"filters": filters.as_dict(), "rows": out, "totals": totals}
