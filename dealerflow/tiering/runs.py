"""Dealer tiering (分层运营): a monthly run scores every dealer through the tiering rule file, applies
the changes (downgrades of the tiers the file names wait for a person), flags silent dealers and asks
their account managers to activate them, and keeps every dealer's scorecard as its history.

Figures come from the database in a handful of GROUP BY queries for all dealers at once; the rule
engine runs once per dealer. Tier and tags land on `dealers`, where every rule file reads them."""
from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Callable

from dealerflow.core.errors import Invalid
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset, TieringSpec, assess_tier
from policies_dsl.kinds.tiering import ratio

from dealerflow.shared import accounts, rulebook, human_tasks as tasks
from dealerflow.core import periods
from dealerflow.contracts import (ApplyResult, DowngradeOutcomeInput, ScoreResult, SilentResult, TaskSpec,
                                  TieringStepInput)
from dealerflow.shared.dealer_facts import facts_of, select_facts
from dealerflow.contracts.tiering import month_of, workflow_id_for
from dealerflow.models import Dealer, SilentDealer, TierScore, TieringRun, User
from dealerflow.shared.notifications import notify, notify_dealers

RULESET = "tiering"
ACCOUNT_MANAGER = "account_manager"  # the silent task's role meaning each dealer's own account manager
TASK_NAMESPACE = uuid.UUID("3f0d9a52-7c1e-4b8a-9e61-2d5c7b40a918")
CHUNK = 2000
LIST_LIMIT = 500  # dealers listed in one task; the API has them all
TERMINAL_DAYS = 90
ZERO = Decimal("0.00")


class TieringError(Invalid):
    """A run that cannot be asked for: not a month, a month to come, or one before the last run."""




def ruleset(session: Session, version: int | None = None) -> tuple[CompiledRuleset, TieringSpec]:
    try:
        compiled = rulebook.compiled(session, RULESET, version)
    except rulebook.UnknownRuleset:
        raise TieringError("no tiering rule file has been deployed (rules/tiering.yaml)") from None
    if compiled.rule_file.kind != "tiering":
        raise TieringError(f"{RULESET!r} is a {compiled.rule_file.kind} rule file, not a tiering file")
    return compiled, compiled.rule_file.spec


def _for_run(session: Session, run: TieringRun) -> tuple[CompiledRuleset, TieringSpec]:
    """A run's later steps use the version it scored with, unless a newer live version's file says
    `running_processes: follow_latest`; then the run follows it and records which it followed
    (its scorecards keep the version that scored them)."""
    compiled = rulebook.for_process(session, RULESET, run.ruleset_version)
    if compiled.rule_file.kind != "tiering":
        raise TieringError(f"{RULESET!r} is a {compiled.rule_file.kind} rule file, not a tiering file")
    if compiled.version != run.ruleset_version and (run.totals or {}).get("followed_version") != compiled.version:
        run.totals = {**(run.totals or {}), "followed_version": compiled.version}
    return compiled, compiled.rule_file.spec


def plan(session: Session, month: str, now: datetime) -> date:
    """The first day of `month`, whose 12 months before are the run's figures; refused with a
    message a person can act on."""
    try:
        period = periods.parse(month)
    except periods.PeriodError:
        period = None
    if period is None or period.kind != "month":
        raise TieringError(f"{month!r} is not a month: write it like {month_of(now)}")
    current = month_of(now)
    if month > current:
        raise TieringError(f"{month} has not started yet (this is {current})")
    latest = session.scalar(select(func.max(TieringRun.month)))
    if latest and month < latest:
        raise TieringError(f"tiering goes forward: {latest} has been run, so {month} can no longer be")
    return period.start


def months_before(day: date, n: int, *, keep_day: bool = False) -> date:
    m = day.year * 12 + day.month - 1 - n
    year, month = divmod(m, 12)
    if not keep_day:
        return date(year, month + 1, 1)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last))


# --- figures -------------------------------------------------------------------------------------

_PURCHASES = text("""
    select dealer_id, category, sum(this) as this, sum(prior) as prior from (
        select o.dealer_id, p.category,
               coalesce(sum(l.amount) filter (where o.delivered_at >= :y1), 0) as this,
               coalesce(sum(l.amount) filter (where o.delivered_at < :y1), 0) as prior
        from order_lines l join orders o on o.id = l.order_id join products p on p.id = l.product_id
        where o.delivered_at >= :y2 and o.delivered_at < :end
        group by o.dealer_id, p.category
        union all
        select r.dealer_id, p.category,
               -coalesce(sum(r.amount) filter (where r.returned_at >= :y1), 0),
               -coalesce(sum(r.amount) filter (where r.returned_at < :y1), 0)
        from order_returns r join products p on p.id = r.product_id
        where r.returned_at >= :y2 and r.returned_at < :end
        group by r.dealer_id, p.category) x
    group by dealer_id, category""")

_ORDERS = text("""
    select dealer_id,
           coalesce(sum(amount) filter (where created_at >= :m1), 0) as m1,
           coalesce(sum(amount) filter (where created_at >= :m2 and created_at < :m1), 0) as m2,
           coalesce(sum(amount) filter (where created_at >= :m3 and created_at < :m2), 0) as m3,
           coalesce(sum(amount) filter (where created_at < :m3), 0) as base
    from orders where created_at >= :base and created_at < :end and status not in ('rejected', 'cancelled')
    group by dealer_id""")

# Active terminal stores are the dealer's level-2 dealers that ordered in the last 90 days. Store scans
# (anti-diversion, `scans` of kind "store") carry no store identity yet, so they cannot count stores;
# once they do, their distinct stores per shipping dealer belong in this figure too.
_TERMINALS = text("""
    select d.parent_id, count(*) from dealers d
    where d.parent_id is not null and exists (
        select 1 from orders o where o.dealer_id = d.id and o.created_at >= :from and o.created_at < :end
        and o.status not in ('rejected', 'cancelled'))
    group by d.parent_id""")

# A policy acknowledgment is due once its deadline has passed or it was given; on time if not late.
_ACKS = text("""
    select dealer_id, count(*) as due,
           count(*) filter (where acknowledged_at < :end and not acknowledged_late) as done
    from policy_targets
    where removed_at is null and ack_due_at is not null and delivered_at >= :y1 and delivered_at < :end
    and (ack_due_at <= :end or acknowledged_at < :end)
    group by dealer_id""")

_TASKS = text("""
    select dealer_id, count(*) as due, count(*) filter (where accepted_at < :end) as done
    from policy_assignments
    where status <> 'cancelled' and created_at >= :y1 and created_at < :end
    and (due_at <= :end or accepted_at < :end)
    group by dealer_id""")


# Dealer requests closed in the 12 months: how many, how many the dealer rated when asked, and their
# average score (a share of the service file's scale, so the tiering file reads 0 to 1 whatever the scale).
_SERVICE = text("""
    select dealer_id, count(*) as closed, count(rated_at) as rated, avg(satisfaction) as score
    from service_requests
    where status = 'closed' and closed_at >= :y1 and closed_at < :end
    group by dealer_id""")


def _rating_scale(session: Session) -> tuple[int, int] | None:
    try:
        spec = rulebook.active(session, "service").rule_file.spec
    except rulebook.UnknownRuleset:
        return None
    return (spec.rating_min, spec.rating_max) if hasattr(spec, "rating_min") else None


def figures(session: Session, as_of: date, dealers: list) -> dict[int, dict]:
    """Every dealer's figures (kinds.TIERING_FIGURES) over the 12 months before `as_of`, in five
    grouped queries. `dealers`: rows with id and region. A figure with nothing to count is None."""
    t = accounts.day_start
    end = t(as_of)
    y1, y2 = t(months_before(as_of, 12)), t(months_before(as_of, 24))
    months = [t(months_before(as_of, k)) for k in (1, 2, 3, 15)]
    by_category: dict[int, dict] = defaultdict(dict)
    prior: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in session.execute(_PURCHASES, {"y1": y1, "y2": y2, "end": end}):
        by_category[row.dealer_id][row.category] = row.this
        prior[row.dealer_id] += row.prior
    orders = {r.dealer_id: r for r in session.execute(_ORDERS, dict(zip(("m1", "m2", "m3", "base"), months), end=end))}
    terminals = dict(session.execute(_TERMINALS, {"from": end - timedelta(days=TERMINAL_DAYS), "end": end}).all())
    acks = {r.dealer_id: r for r in session.execute(_ACKS, {"y1": y1, "end": end})}
    done_tasks = {r.dealer_id: r for r in session.execute(_TASKS, {"y1": y1, "end": end})}
    scale = _rating_scale(session)
    service = {r.dealer_id: r for r in session.execute(_SERVICE, {"y1": y1, "end": end})} if scale else {}

    purchases = {d.id: sum(by_category.get(d.id, {}).values(), ZERO) for d in dealers}
    regions: dict[str, list] = defaultdict(list)
    for d in dealers:
        regions[d.region].append(purchases[d.id])
    for values in regions.values():
        values.sort()
    out = {}
    for d in dealers:
        cats = {c: max(v, ZERO) for c, v in by_category.get(d.id, {}).items()}
        top = min(cats, key=lambda c: (-cats[c], c)) if cats and max(cats.values()) > 0 else None
        o, a, k, sv = orders.get(d.id), acks.get(d.id), done_tasks.get(d.id), service.get(d.id)
        base = o.base / 12 if o else ZERO
        out[d.id] = {
            "purchases": purchases[d.id], "prior_purchases": prior.get(d.id, ZERO),
            "purchases_rank_in_region": _rank(regions[d.region], purchases[d.id]),
            "category_share": ratio(cats[top], sum(cats.values())) if top else None, "top_category": top or "",
            "terminal_stores": int(terminals.get(d.id, 0)),
            "ack_on_time_rate": ratio(a.done, a.due) if a else None, "policies_due": a.due if a else 0,
            "task_completion_rate": ratio(k.done, k.due) if k else None, "tasks_due": k.due if k else 0,
            "requests_closed": sv.closed if sv else 0,
            "rating_rate": ratio(sv.rated, sv.closed) if sv else None,
            "satisfaction_share": ratio(Decimal(sv.score) - scale[0], scale[1] - scale[0])
            if sv and sv.score is not None else None,
            **{f"order_growth_m{n}": ratio(getattr(o, f"m{n}") - base, base) if o and base > 0 else None
               for n in (1, 2, 3)},
        }
    return out


def card_value(tier: str, tags) -> str:
    """A scorecard's outcome as the shadow dashboard compares it: the tier and its tags."""
    return f"{tier} [{', '.join(sorted(tags))}]"


def _shadow_card(shadow: CompiledRuleset, dealer: dict, figures: dict) -> dict:
    a = assess_tier(shadow, shadow.rule_file.spec, dealer, figures)
    return {"value": card_value(a.tier, a.tags), "outcome": {"tier": a.tier, "tags": sorted(a.tags)},
            "rule": a.override or a.tier, "reason": a.explanation.get("reason", "")}


def _inputs(dealer: dict, figures: dict) -> dict:
    """What a replay of this scorecard needs, exact: the dealer facts and figures it was scored on."""
    return {"dealer": dealer, "figures": {k: str(v) if isinstance(v, Decimal) else v for k, v in figures.items()}}


def _rank(values: list, value: Decimal) -> Decimal:
    """Percentile in the region, exact: the share of the other dealers that bought less, 0 to 100.
    Ties share the lower rank, so dealers without purchases are all at 0."""
    if len(values) == 1:
        return Decimal(100) if value > 0 else Decimal(0)
    return Decimal(bisect.bisect_left(values, value) * 100) / (len(values) - 1)


# --- a run -----------------------------------------------------------------------------------------

def _locked(session: Session, month: str) -> TieringRun:
    return session.scalars(select(TieringRun).where(TieringRun.month == month).with_for_update()).one()


def score_run(session: Session, inp: TieringStepInput, *,
              progress: Callable[[int], None] = lambda done: None) -> ScoreResult:
    """Create the run (once) and score every dealer: one row per dealer with its scorecard and the
    change proposed. One transaction: a worker killed halfway leaves nothing to undo."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"tiering:{inp.month}"))))
    run = session.get(TieringRun, inp.month)
    if run is not None:  # a retried activity: scored already
        return ScoreResult(run.month, run.totals.get("dealers", 0), run.totals.get("changes", 0))
    as_of = plan(session, inp.month, inp.now)
    compiled, spec = ruleset(session)
    run = TieringRun(month=inp.month, ruleset_version=compiled.version, as_of=accounts.day_start(as_of),
                     workflow_id=workflow_id_for(inp.month), stage="scoring", started_by=inp.actor, totals={})
    session.add(run)
    session.flush()
    # Downgrades an earlier month still holds are scored afresh here: an approval arriving late for
    # them must not overwrite this month's tiers.
    session.execute(update(TierScore).where(TierScore.run_month < run.month, TierScore.status == "awaiting_approval")
                    .values(status="rejected", decided_by=f"superseded by {run.month}", decided_at=inp.now))
    dealers = session.execute(select_facts()).all()
    figs = figures(session, as_of, dealers)
    rows, moves, proposed = [], defaultdict(int), defaultdict(int)
    shadows, shadowed = rulebook.shadows(session, RULESET), []
    progress(0)
    for n, d in enumerate(dealers, 1):
        a = assess_tier(compiled, spec, facts_of(d), figs[d.id])
        if shadows:  # evaluated beside the live card, stored, never applied
            shadowed.append(dict(
                ruleset=RULESET, subject=f"{run.month}:{d.code}", live_version=compiled.version,
                live=card_value(a.tier, a.tags), live_reason=a.explanation.get("reason", ""),
                shadow=rulebook.beside(shadows, lambda s: _shadow_card(s, facts_of(d), figs[d.id])),
                context={"dealer": d.code, "region": d.region, "tier": d.tier, "month": run.month}))
        changed = a.tier != d.tier or set(a.tags) != set(d.tags or ())
        if a.tier != d.tier:
            moves["upgrades" if spec.rank(a.tier) < spec.rank(d.tier) else "downgrades"] += 1
        proposed[a.tier] += 1
        rows.append(dict(run_month=run.month, dealer_id=d.id, score=a.score, old_tier=d.tier, new_tier=a.tier,
                         dimensions={x.key: f"{x.score:.2f}" for x in a.dimensions}, override=a.override,
                         old_tags=list(d.tags or ()), new_tags=list(a.tags), rule_tags=list(a.owned),
                         status="proposed" if changed else "unchanged",
                         explanation={**a.explanation, "month": run.month, "as_of": as_of.isoformat(),
                                      "inputs": _inputs(facts_of(d), figs[d.id])}))
        if len(rows) == CHUNK:
            session.execute(insert(TierScore), rows)
            rulebook.store_shadow_outcomes(session, shadowed)
            rows, shadowed = [], []
        if n % 500 == 0:
            progress(n)
    if rows:
        session.execute(insert(TierScore), rows)
    rulebook.store_shadow_outcomes(session, shadowed)
    changes = session.scalar(select(func.count()).where(TierScore.run_month == run.month,
                                                        TierScore.status == "proposed"))
    run.scored_at, run.stage = inp.now, "applying"
    run.totals = {"dealers": len(dealers), "changes": changes, "upgrades": moves["upgrades"],
                  "downgrades": moves["downgrades"], "proposed_by_tier": dict(proposed)}
    return ScoreResult(run.month, len(dealers), changes)


_APPLY = text("""
    update dealers d set
        tier = case when s.status = 'proposed' then s.new_tier else d.tier end,
        tags = array(select distinct t from unnest(array_cat(
                   array(select x from unnest(d.tags) x where not (x = any(cast(:owned as varchar[])))),
                   s.rule_tags)) t order by t)
    from tier_scores s
    where s.run_month = :month and s.dealer_id = d.id and s.status in ('proposed', 'awaiting_approval')""")


def apply_changes(session: Session, inp: TieringStepInput) -> ApplyResult:
    """Apply every proposed change but the downgrades the file sends to a person (their tags change
    now, their tier on approval); tell the dealers whose tier moved. Returns the approval task."""
    run = _locked(session, inp.month)
    _, spec = _for_run(session, run)
    if run.stage == "applying":
        tiers = [t.name for t in spec.tiers]
        session.execute(text("""
            update tier_scores set status = 'awaiting_approval'
            where run_month = :month and status = 'proposed' and old_tier = any(cast(:gated as varchar[]))
            and array_position(cast(:tiers as varchar[]), new_tier)
                > array_position(cast(:tiers as varchar[]), old_tier)"""),
            {"month": run.month, "gated": list(spec.approval_from), "tiers": tiers})
        session.execute(_APPLY, {"month": run.month, "owned": list(spec.owned_tags)})
        proposed = (TierScore.run_month == run.month) & (TierScore.status == "proposed")
        applied = session.execute(update(TierScore).where(proposed)
                                  .values(status="applied", decided_by="rules", decided_at=inp.now)
                                  .returning(TierScore.dealer_id, TierScore.old_tier, TierScore.new_tier)).all()
        _notify_moves(session, spec, run.month, applied)
        awaiting = session.scalar(select(func.count()).where(TierScore.run_month == run.month,
                                                             TierScore.status == "awaiting_approval"))
        run.stage = "awaiting_approval" if awaiting else "applied"
        run.totals = {**run.totals, "applied": len(applied), "awaiting_approval": awaiting}
        if awaiting:
            run.approval = {"task_id": inp.task_id, "dealers": awaiting}
    result = ApplyResult(run.totals.get("applied", 0), run.totals.get("awaiting_approval", 0))
    if run.stage == "awaiting_approval":
        result.approval = _approval_task(session, spec, run)
    return result


def _approval_task(session: Session, spec: TieringSpec, run: TieringRun) -> TaskSpec:
    rows = session.execute(select(Dealer.code, Dealer.name, Dealer.region, TierScore.old_tier, TierScore.new_tier,
                                  TierScore.score, TierScore.explanation).join(Dealer, Dealer.id == TierScore.dealer_id)
                           .where(TierScore.run_month == run.month, TierScore.status == "awaiting_approval")
                           .order_by(Dealer.code)).all()
    role = spec.approval_role
    return TaskSpec(
        task_id=run.approval["task_id"], kind="tier_downgrade",
        title=f"Re-tiering {run.month}: approve {len(rows)} downgrade(s) of {', '.join(spec.approval_from)} dealers",
        subject_type="tiering", subject_id=run.month, assignee_role=role, outcomes=["approve", "reject"],
        sla_seconds=spec.approval_sla_seconds, escalate_to="hq" if role != "hq" else None,
        payload={"month": run.month, "count": len(rows), "dealers": [
            {"code": r.code, "name": r.name, "region": r.region, "from": r.old_tier, "to": r.new_tier,
             "score": f"{r.score:.2f}", "reason": r.explanation.get("reason", "")} for r in rows[:LIST_LIMIT]]})


def decide_downgrades(session: Session, inp: DowngradeOutcomeInput) -> int:
    """The approver's answer for every downgrade the run held: approve applies them, reject keeps
    the dealers' tiers. Returns how many were decided (0 on a retry)."""
    run = _locked(session, inp.month)
    _, spec = _for_run(session, run)
    waiting = (TierScore.run_month == run.month) & (TierScore.status == "awaiting_approval")
    approve = inp.task.outcome == "approve"
    if approve:
        session.execute(text("""
            update dealers d set tier = s.new_tier from tier_scores s
            where s.run_month = :month and s.dealer_id = d.id and s.status = 'awaiting_approval'"""),
                        {"month": run.month})
    decided = session.execute(update(TierScore).where(waiting).values(
        status="applied" if approve else "rejected", decided_by=inp.task.actor, decided_at=inp.now)
        .returning(TierScore.dealer_id, TierScore.old_tier, TierScore.new_tier)).all()
    if approve:
        _notify_moves(session, spec, run.month, decided)
    if not (run.approval or {}).get("outcome"):  # not a retry (the run's downgrades may have been superseded)
        run.approval = {**(run.approval or {}), "outcome": inp.task.outcome, "actor": inp.task.actor,
                        "comment": inp.task.comment, "at": inp.now.isoformat(), "decided": len(decided)}
        run.totals = {**run.totals, "awaiting_approval": 0}
        run.stage = "applied"
    return len(decided)


def _notify_moves(session: Session, spec: TieringSpec, month: str, moved) -> None:
    by_tier: dict[str, list[int]] = defaultdict(list)
    for dealer_id, old, new in moved:
        if old != new:
            by_tier[new].append(dealer_id)
    for name, dealers in by_tier.items():
        tier = spec.tier(name)
        title = f"{tier.title} ({tier.title_in('zh')})" if tier.texts else tier.title
        notify_dealers(session, dealers, kind="tier", title=f"Your tier from {month}: {title}",
                       body="Benefits: " + "; ".join(tier.benefits) if tier.benefits else "",
                       link="/console/tier", dedup=f"tier:{month}:{name}")


def close_run(session: Session, inp: TieringStepInput) -> dict:
    run = _locked(session, inp.month)
    if run.closed_at is None:
        statuses = dict(session.execute(select(TierScore.status, func.count()).where(TierScore.run_month == run.month)
                                        .group_by(TierScore.status)).all())
        tiers = dict(session.execute(select(Dealer.tier, func.count()).group_by(Dealer.tier)).all())
        silent = session.scalar(select(func.count()).where(SilentDealer.run_month == run.month))
        run.totals = {**run.totals, "statuses": statuses, "by_tier": tiers, "silent_flagged": silent}
        run.stage, run.closed_at = "closed", inp.now
        notify(session, role="hq", kind="tiering", link=f"/console/tiering?month={run.month}",
               title=f"Re-tiering {run.month}: {statuses.get('applied', 0)} changes applied, "
                     f"{statuses.get('rejected', 0)} downgrades kept back, {silent} silent dealers flagged",
               dedup_key=f"tiering-closed:{run.month}")
    return run.totals


# --- silent dealers -----------------------------------------------------------------------------

_SILENT = text("""
    select d.id, d.tags, d.account_manager, coalesce(max(o.created_at), d.joined) as since
    from (select *, cooperation_since::timestamp at time zone 'Asia/Shanghai' as joined from dealers) d
    left join orders o on o.dealer_id = d.id
    where d.joined <= :cutoff
    and not exists (select 1 from silent_dealers s where s.dealer_id = d.id and s.activated_at is null)
    group by d.id, d.tags, d.account_manager, d.joined
    having coalesce(max(o.created_at), d.joined) <= :cutoff""")

_ACTIVATED = text("""
    update silent_dealers s set activated_at = o.created_at, activation_order_id = o.id
    from silent_dealers f cross join lateral (
        select id, created_at from orders where dealer_id = f.dealer_id and created_at > f.flagged_at
        order by created_at limit 1) o
    where s.id = f.id and f.activated_at is null""")


def silence_cutoff(spec: TieringSpec, now: datetime) -> datetime:
    unit, n = spec.silent_after
    if unit == "seconds":
        return now - timedelta(seconds=n)
    local = now.astimezone(accounts.CHINA)
    return datetime.combine(months_before(local.date(), n, keep_day=True), local.time(), accounts.CHINA)


def flag_silent(session: Session, inp: TieringStepInput) -> SilentResult:
    """Flag the dealers with no order for the file's period (once each), note those who ordered
    again, and open one activation task per account manager listing its dealers with the actions
    the file suggests for their tags. A retry returns the same tasks."""
    run = _locked(session, inp.month)
    _, spec = _for_run(session, run)
    activated = session.execute(_ACTIVATED).rowcount
    if spec.silent_after is None:
        return SilentResult(0, activated)
    new = session.execute(_SILENT, {"cutoff": silence_cutoff(spec, inp.now)}).all()
    if new:
        session.execute(insert(SilentDealer).on_conflict_do_nothing(
            index_elements=["dealer_id"], index_where=text("activated_at is null")), [
            dict(dealer_id=r.id, run_month=run.month, silent_since=r.since, flagged_at=inp.now,
                 account_manager=r.account_manager, actions=spec.actions_for(set(r.tags or ()))) for r in new])
    flagged = session.scalar(select(func.count()).where(SilentDealer.run_month == run.month))
    run.totals = {**run.totals, "silent_flagged": flagged}
    return SilentResult(len(new), activated, _activation_tasks(session, spec, run.month, inp.now))


def _activation_tasks(session: Session, spec: TieringSpec, month: str, now: datetime) -> list[TaskSpec]:
    rows = session.execute(select(SilentDealer.id, SilentDealer.account_manager, SilentDealer.silent_since,
                                  SilentDealer.actions, Dealer.code, Dealer.name, Dealer.region)
                           .join(Dealer, Dealer.id == SilentDealer.dealer_id)
                           .where(SilentDealer.run_month == month).order_by(Dealer.code)).all()
    own = spec.silent_role == ACCOUNT_MANAGER
    groups: dict[str | None, list] = defaultdict(list)
    for row in rows:
        groups[row.account_manager if own else None].append(row)
    managers = dict(session.execute(select(User.username, User.id).where(
        User.role == ACCOUNT_MANAGER, User.username.in_([g for g in groups if g]))).all())
    specs = []
    for manager, members in sorted(groups.items(), key=lambda g: g[0] or ""):
        user_id = managers.get(manager) if manager else None
        # A dealer whose account manager has no login goes to HQ: nobody slips through.
        role = ACCOUNT_MANAGER if user_id else (spec.silent_role if not own else "hq")
        task_id = str(uuid.uuid5(TASK_NAMESPACE, f"{month}:activation:{manager or role}"))
        task = TaskSpec(
            task_id=task_id, kind="dealer_activation",
            title=f"Activate {len(members)} silent dealer(s)" + (f" of {manager}" if manager else "") + f" ({month})",
            subject_type="tiering", subject_id=month, assignee_role=role, assignee_user_id=user_id,
            outcomes=["contacted", "unreachable"], sla_seconds=spec.silent_sla_seconds,
            escalate_to="hq" if role != "hq" else None,
            payload={"month": month, "account_manager": manager, "silent_dealers": len(members), "dealers": [
                {"code": m.code, "name": m.name, "region": m.region, "silent_since": m.silent_since.isoformat(),
                 "actions": m.actions} for m in members[:LIST_LIMIT]]})
        tasks.open_task(session, task, workflow_id=f"task-{task_id}", now=now)
        session.execute(update(SilentDealer).where(SilentDealer.id.in_([m.id for m in members]))
                        .values(task_id=uuid.UUID(task_id)))
        specs.append(task)
    return specs


def record_activation(session: Session, *, dealer_id: int, order_id: uuid.UUID) -> None:
    """A dealer's order clears its silent flag: the activation counts from this order."""
    session.execute(_ACTIVATE, {"silent_dealer": dealer_id, "activation_order": order_id})


# Run on every order: built once; no silent dealer is loaded in the placing session to synchronise.
_ACTIVATE = (update(SilentDealer).where(SilentDealer.dealer_id == bindparam("silent_dealer"),
                                        SilentDealer.activated_at.is_(None))
             .values(activated_at=func.now(), activation_order_id=bindparam(
                 "activation_order", type_=SilentDealer.__table__.c.activation_order_id.type))
             .execution_options(synchronize_session=False))
