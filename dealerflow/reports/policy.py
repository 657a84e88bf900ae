"""Policy effect by region (区域政策效果对比): reach (delivered, acknowledged) and conversion per
region, pilot against the rest, before against after. Conversion is the policy figures' own
(dealerflow.policies.figures.CONVERTED: an order neither rejected nor cancelled after the policy
reached the dealer, within the window); "before" counts the same over a window as long just before."""
from __future__ import annotations

from datetime import timedelta
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from dealerflow.core.errors import NotFound
from dealerflow.models import Policy
from dealerflow.policies import figures
from dealerflow.policies.rollout import spec_of
from dealerflow.reports.filters import Filters, FilterError, ids_param


def policy_effect(session: Session, *, policy_id: str | None, filters: Filters, use_period: bool = False,
                  dealer_ids: Sequence[int] | None = None) -> dict:
    """The window after is the policy's effective window, or with `use_period` the filters' period.
    The category filter does not apply (conversion counts any order)."""
    if not policy_id:
        raise FilterError("name the policy", field="policy")
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise NotFound(f"no policy {policy_id!r}")
    if use_period:
        window = {"window_from": filters.current.since, "window_to": filters.current.until}
    else:
        window = figures.conversion_window(spec_of(session, policy.id, policy.version))
    length = window["window_to"] - window["window_from"]
    params = {**window, "before_from": window["window_from"] - length, "policy": policy.id}
    scope = ""
    if dealer_ids is not None:
        scope += " and t.dealer_id = any(:dealer_ids)"
        params["dealer_ids"] = ids_param(dealer_ids)
    if filters.region:
        scope += " and d.region = :region"
        params["region"] = filters.region
    before = figures.ordered_between(":before_from", "least(t.delivered_at, :window_from)")
    rows = session.execute(text(f"""
        select d.region, t.pilot,
               count(*) as targeted,
               count(*) filter (where t.delivered_at is not null) as delivered,
               count(*) filter (where t.delivered_at is not null and {figures.ACKED}) as acknowledged,
               count(*) filter (where t.delivered_at is not null and {before}) as ordered_before,
               count(*) filter (where t.delivered_at is not null and {figures.CONVERTED}) as ordered_after
        from policy_targets t join dealers d on d.id = t.dealer_id
        where t.policy_id = :policy and t.removed_at is null{scope}
        group by d.region, t.pilot order by d.region, t.pilot desc"""), params).all()
    out = []
    for r in rows:
        out.append({"region": r.region, "group": "pilot" if r.pilot else "rest", "targeted": r.targeted,
                    "delivered": r.delivered, "acknowledged": r.acknowledged,
                    "acknowledgment_rate": figures.rate(r.acknowledged, r.delivered),
                    "ordered_before": r.ordered_before, "conversion_before": figures.rate(r.ordered_before, r.delivered),
                    "ordered_after": r.ordered_after, "conversion_after": figures.rate(r.ordered_after, r.delivered)})
    groups = {}
    for name in ("pilot", "rest"):
        part = [r for r in out if r["group"] == name]
        delivered = sum(r["delivered"] for r in part)
        groups[name] = {"targeted": sum(r["targeted"] for r in part), "delivered": delivered,
                        "conversion_before": figures.rate(sum(r["ordered_before"] for r in part), delivered),
                        "conversion_after": figures.rate(sum(r["ordered_after"] for r in part), delivered)}
    return {"filters": filters.as_dict(), "policy_id": policy.id, "version": policy.version,
            "title": policy.title, "status": policy.status,
            "window": {"before_from": params["before_from"], "from": window["window_from"],
                       "to": window["window_to"] - timedelta(microseconds=1)},
            "groups": groups, "rows": out}


def policies_reach(session: Session, *, dealer_ids: Sequence[int] | None = None, limit: int = 20) -> list[dict]:
    """The latest policies still running: targeted, delivered and acknowledged dealers (in scope)."""
    params: dict = {"limit": limit}
    scope = ""
    if dealer_ids is not None:
        scope, params["dealer_ids"] = " and t.dealer_id = any(:dealer_ids)", ids_param(dealer_ids)
    rows = session.execute(text(f"""
        select p.id, p.title, p.status, count(t.dealer_id) as targeted,
               count(t.dealer_id) filter (where t.delivered_at is not null) as delivered,
               count(t.dealer_id) filter (where t.delivered_at is not null and {figures.ACKED}) as acknowledged
        from (select * from policies where status in ('pilot', 'awaiting_decision', 'rolling_out', 'active')
              order by published_at desc limit :limit) p
        left join policy_targets t on t.policy_id = p.id and t.removed_at is null{scope}
        group by p.id, p.title, p.status, p.published_at order by p.published_at desc"""), params).all()
    return [{**dict(r._mapping), "acknowledgment_rate": figures.rate(r.acknowledged, r.delivered)} for r in rows]
