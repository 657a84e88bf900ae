"""Live figures of a policy rollout, computed in the database in a few grouped queries whatever the
number of dealers: acknowledgment by region, tasks, order conversion (pilot vs. the rest), and the
dealers still silent."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from dealerflow.models import Policy

SILENT_LIST_LIMIT = 200
# A target `t` has acknowledged the version delivered to it, or is silent; the chasing sweeps use
# the same definition.
ACKED = _ACKED = "t.acknowledged_version = t.delivered_version"
SILENT = "t.delivered_at is not null and t.acknowledged_version is distinct from t.delivered_version"

_BY_REGION = text(f"""
    select d.region,
           count(*) as targeted,
           count(*) filter (where t.delivered_at is not null) as delivered,
           count(*) filter (where {_ACKED} and not t.acknowledged_late) as acknowledged_on_time,
           count(*) filter (where {_ACKED} and t.acknowledged_late) as acknowledged_late,
           count(*) filter (where {SILENT} and (t.ack_due_at is null or t.ack_due_at > :now)) as not_yet,
           count(*) filter (where {SILENT} and t.ack_due_at <= :now) as overdue,
           coalesce(sum(t.reminders_sent), 0) as reminders_sent,
           count(*) filter (where t.escalation_level > 0) as escalated
    from policy_targets t join dealers d on d.id = t.dealer_id
    where t.policy_id = :policy and t.removed_at is null
    group by d.region order by d.region""")

_TASKS = text("""
    select a.task_key,
           count(*) filter (where a.status <> 'cancelled') as assigned,
           count(*) filter (where a.status = 'submitted') as submitted,
           count(*) filter (where a.status = 'accepted') as accepted,
           count(*) filter (where a.status = 'returned') as returned,
           count(*) filter (where a.status in ('assigned', 'returned') and a.overdue_at is not null) as overdue,
           count(*) filter (where a.status = 'cancelled') as cancelled
    from policy_assignments a where a.policy_id = :policy group by a.task_key order by a.task_key""")



def ordered_between(start: str, end: str) -> str:
    """SQL: target `t`'s dealer placed an order (neither rejected nor cancelled) in [start, end) —
    what conversion counts; the reports use it for the windows before and after a policy."""
    return f"""exists (select 1 from orders o where o.dealer_id = t.dealer_id
               and o.created_at >= {start} and o.created_at < {end}
               and o.status not in ('rejected', 'cancelled'))"""


# Converted: ordered after the policy reached the dealer, within its effective window.
CONVERTED = ordered_between("greatest(t.delivered_at, :window_from)", ":window_to")

_CONVERSION = text(f"""
    select t.pilot, count(*) as dealers,
           count(*) filter (where {CONVERTED}) as ordered
    from policy_targets t
    where t.policy_id = :policy and t.delivered_at is not null and t.removed_at is null
    group by t.pilot""")

_SILENT_LIST = text(f"""
    select d.code, d.name, d.region, d.account_manager, t.delivered_at, t.ack_due_at, t.reminders_sent,
           t.escalation_level, t.ack_due_at <= :now as overdue
    from policy_targets t join dealers d on d.id = t.dealer_id
    where t.policy_id = :policy and t.removed_at is null and {SILENT}
    order by t.ack_due_at nulls last, d.code limit :limit""")

_PILOT = text(f"""
    select count(*) as dealers,
           count(*) filter (where {_ACKED}) as acknowledged,
           count(*) filter (where exists (
               select 1 from orders o where o.dealer_id = t.dealer_id and o.created_at >= t.delivered_at
               and o.status not in ('rejected', 'cancelled'))) as ordered,
           (select count(*) from policy_assignments a join policy_targets p
              on p.policy_id = a.policy_id and p.dealer_id = a.dealer_id and p.pilot
            where a.policy_id = :policy and a.status <> 'cancelled') as assignments,
           (select count(*) from policy_assignments a join policy_targets p
              on p.policy_id = a.policy_id and p.dealer_id = a.dealer_id and p.pilot
            where a.policy_id = :policy and a.status = 'accepted') as accepted
    from policy_targets t
    where t.policy_id = :policy and t.pilot and t.delivered_at is not null and t.removed_at is null""")


def rate(part: int, whole: int) -> Decimal:
    return (Decimal(part) / whole).quantize(Decimal("0.0001"), ROUND_HALF_UP) if whole else Decimal("0")


def conversion_window(spec) -> dict:
    """The parameters `window_from` and `window_to` of CONVERTED: the policy's effective window."""
    return {"window_from": datetime.combine(spec.effective_from, time(), tzinfo=timezone.utc),
            "window_to": datetime.combine(spec.effective_to + timedelta(days=1), time(), tzinfo=timezone.utc)}


def pilot_figures(session: Session, policy_id: str) -> dict:
    row = session.execute(_PILOT, {"policy": policy_id}).one()
    return {"dealers": row.dealers, "acknowledgment_rate": rate(row.acknowledged, row.dealers),
            "conversion_rate": rate(row.ordered, row.dealers),
            "task_acceptance_rate": rate(row.accepted, row.assignments)}


def policy_figures(session: Session, policy: Policy, spec, *, now: datetime | None = None) -> dict:
    """Figures of `policy`; `spec` is the content of the version being rolled out."""
    now = now or datetime.now(timezone.utc)
    policy_id = policy.id
    params = {"policy": policy_id, "now": now}
    regions = [dict(r._mapping) for r in session.execute(_BY_REGION, params)]
    keys = [k for k in (regions[0] if regions else {}) if k != "region"]
    totals = {k: sum(r[k] for r in regions) for k in keys} if regions else {
        k: 0 for k in ("targeted", "delivered", "acknowledged_on_time", "acknowledged_late", "not_yet", "overdue",
                       "reminders_sent", "escalated")}
    for r in regions:
        r["acknowledgment_rate"] = str(rate(r["acknowledged_on_time"] + r["acknowledged_late"], r["delivered"]))
    totals["acknowledgment_rate"] = str(rate(totals["acknowledged_on_time"] + totals["acknowledged_late"],
                                             totals["delivered"]))
    task_rows = [dict(r._mapping) for r in session.execute(_TASKS, params)]
    titles = {t.key: t.title for t in spec.tasks}
    for r in task_rows:
        r["title"] = titles.get(r["task_key"], r["task_key"])
    window = conversion_window(spec)
    conversion = {}
    for r in session.execute(_CONVERSION, {**params, **window}):
        conversion["pilot" if r.pilot else "rest"] = {"dealers": r.dealers, "ordered": r.ordered,
                                                      "rate": str(rate(r.ordered, r.dealers))}
    all_dealers = sum(c["dealers"] for c in conversion.values())
    all_ordered = sum(c["ordered"] for c in conversion.values())
    conversion["all"] = {"dealers": all_dealers, "ordered": all_ordered, "rate": str(rate(all_ordered, all_dealers))}
    silent = [dict(r._mapping) for r in session.execute(_SILENT_LIST, {**params, "limit": SILENT_LIST_LIMIT})]
    for s in silent:
        for k in ("delivered_at", "ack_due_at"):
            s[k] = s[k].isoformat() if s[k] else None
    return {
        "policy_id": policy_id, "version": policy.version, "title": policy.title, "status": policy.status,
        "pilot_decision": policy.pilot_decision,
        "acknowledgment": totals, "by_region": regions,
        "tasks": task_rows, "conversion": conversion,
        "silent": {"count": totals["not_yet"] + totals["overdue"], "dealers": silent},
    }
