"""The daily run's steps: begin (keyed by day and scope), figures (health.py), advice by the inventory
rule file, tasks and notifications, close. Figures and advice are made in SLICES of the dealers at
once (each on its own connection, and on any worker); the tasks and notifications follow them.

The engine runs once per dealer × sku whose figures cross a threshold of the file (a query picks
them; the others need no rule). Each piece of advice is stored with its explanation — rule file,
version, rules that fired, the figures and their sources — under a key of day, dealer, sku and
action, so a day run twice writes nothing twice. Tasks and notifications are read back from the
stored advice, so a retried step returns the same ones: one task per account manager listing its
dealers' red items, one notification per dealer and per account manager, one for HQ."""
from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset
from policies_dsl.kinds.inventory import NO_SALES_DAYS, RANK, InventorySpec, advise

from dealerflow.contracts import AdviceResult, InventoryRunPlan, InventoryStepInput, TaskSpec
from dealerflow.contracts.inventory import ALL_REGIONS, workflow_id_for
from dealerflow.core.db import copy_rows
from dealerflow.core.errors import Invalid
from dealerflow.inventory import health
from dealerflow.models import InventoryHealth, InventoryRun, User
from dealerflow.shared import human_tasks as tasks, rulebook
from dealerflow.shared.notifications import notify, notify_each

RULESET = "inventory"
TASK_NAMESPACE = uuid.UUID("8a1d3c52-54e3-4f0e-a1a7-0c4c9b7de2f1")
MEMO_LIMIT = 20_000  # distinct rule inputs kept per run: pairs share a few thresholds' worth of figures
LIST_LIMIT = 30  # items listed in a task (the tasks travel through the workflow); the console has them all
SLICES = 2  # dealers measured and advised at once: each slice is one database process's work


class InventoryError(Invalid):
    """A run that cannot be asked for: no inventory rule file, a day to come."""


def ruleset(session: Session, version: int | None = None) -> tuple[CompiledRuleset, InventorySpec]:
    try:
        compiled = rulebook.compiled(session, RULESET, version)
    except rulebook.UnknownRuleset:
        raise InventoryError("no inventory rule file has been deployed (rules/inventory.yaml)") from None
    if compiled.rule_file.kind != "inventory":
        raise InventoryError(f"{RULESET!r} is a {compiled.rule_file.kind} rule file, not an inventory file")
    return compiled, compiled.rule_file.spec


def scope_of(region: str | None) -> str:
    return region or ALL_REGIONS


def begin(session: Session, inp: InventoryStepInput) -> InventoryRunPlan:
    """The day's run row (once); a run closed before says so, and the workflow does nothing more."""
    day = date.fromisoformat(inp.day)
    compiled, _ = ruleset(session)
    session.execute(insert(InventoryRun).values(
        day=day, scope=inp.scope, ruleset_version=compiled.version, workflow_id=workflow_id_for(inp.day, inp.scope),
        stage="measuring", totals={}).on_conflict_do_nothing(index_elements=["day", "scope"]))
    run = session.get(InventoryRun, (day, inp.scope))
    return InventoryRunPlan(inp.day, inp.scope, run.ruleset_version, done=run.finished_at is not None, slices=SLICES)


def measure(session: Session, inp: InventoryStepInput) -> int:
    """The day's figures of the step's slice of dealers; the run keeps how long the slowest slice's
    statement took (its totals: measure_seconds). The run's row is read, not locked, so the slices
    measure at once; only the closing update of the totals waits for another slice's."""
    run = session.get(InventoryRun, (date.fromisoformat(inp.day), inp.scope))
    _, spec = ruleset(session, run.ruleset_version)
    started = time.monotonic()
    pairs = health.compute(session, day=run.day, region=None if inp.scope == ALL_REGIONS else inp.scope,
                           average_over_days=spec.average_over_days, slow_over=spec.overstock_floor,
                           slice=inp.slice, slices=inp.slices)
    session.execute(_MEASURED, {"day": run.day, "scope": inp.scope,
                                "seconds": round(time.monotonic() - started, 3)})
    return pairs


_MEASURED = text("""
    update inventory_runs set totals = totals || jsonb_build_object('measure_seconds',
        greatest(coalesce((totals ->> 'measure_seconds')::numeric, 0), :seconds))
    where day = :day and scope = :scope""")


_CANDIDATES = text("""
    select h.dealer_id, h.product_id, h.region, h.on_hand, h.in_transit, h.turnover_days, h.cover_days,
           h.report_age_days, h.daily_demand, h.rising_months,  -- what the facts read; the figures come whole
           d.code, d.level, d.tier, d.tags, d.channel, d.account_manager, p.sku, p.pack_size, p.category,
           coalesce(s.safety_stock, 0) as safety_stock, cp.points as credit_points, json_build_object(
               'on_hand', h.on_hand, 'in_transit', h.in_transit, 'stock_source', h.source,
               'report_day', to_char(h.report_day, 'YYYY-MM-DD'), 'report_age_days', h.report_age_days,
               'report_stale', h.report_age_days is null or h.report_age_days > :fresh_days,
               'sold', h.sold, 'received', h.received, 'daily_sales', h.daily_sales::text,
               'daily_demand', h.daily_demand::text, 'demand_source', h.demand_source,
               'turnover_days', h.turnover_days::text, 'cover_days', h.cover_days::text,
               'sell_through_rate', h.sell_through_rate::text, 'stock_value', h.stock_value::text,
               'orders_by_month', h.orders_by_month, 'rising_months', h.rising_months)::text as figures
    from inventory_health h join dealers d on d.id = h.dealer_id join products p on p.id = h.product_id
    left join inventory_settings s on s.dealer_id = h.dealer_id and s.product_id = h.product_id
    left join lateral (select 100 + coalesce(sum(points), 0) as points from credit_points c
                       where c.dealer_id = h.dealer_id) cp on true
    where h.day = :day and (cast(:region as text) is null or h.region = :region)
      and h.dealer_id % :slices = :slice and (
        (h.on_hand > 0 and (h.turnover_days is null or h.turnover_days > :floor))
        or h.cover_days < :cover_under
        or (s.safety_stock > 0 and h.on_hand < s.safety_stock)
        or h.rising_months >= :rising)
    order by h.dealer_id, h.product_id""")


def dealer_facts(row) -> dict:
    """A candidate's dealer facts: the same for each of its skus, so made once a dealer."""
    return {"dealer.code": row.code, "dealer.region": row.region, "dealer.level": row.level, "dealer.tier": row.tier,
            "dealer.tags": list(row.tags or ()), "dealer.channel": row.channel,
            "dealer.credit_points": int(row.credit_points)}


def facts_for(row, dealer: dict) -> dict:
    """A candidate's facts: its `dealer_facts` and its stock's."""
    turnover = row.turnover_days if row.turnover_days is not None else (NO_SALES_DAYS if row.on_hand else Decimal(0))
    cover = row.cover_days if row.cover_days is not None else NO_SALES_DAYS
    return {
        **dealer, "stock.on_hand": row.on_hand, "stock.in_transit": row.in_transit, "stock.turnover_days": turnover,
        "stock.cover_days": cover, "stock.safety_stock": row.safety_stock,
        "stock.report_age_days": row.report_age_days if row.report_age_days is not None else 0,
        "stock.daily_demand": row.daily_demand, "product.pack_size": row.pack_size,
        "orders.rising_months": row.rising_months,
    }


def advise_run(session: Session, inp: InventoryStepInput) -> AdviceResult:
    """The whole advice step in one transaction: every slice, then the conclusion."""
    for n in range(inp.slices):
        advise_slice(session, replace(inp, slice=n))
    return conclude(session, inp)


def advise_slice(session: Session, inp: InventoryStepInput) -> int:
    """Rules once per dealer × sku of the step's slice that needs them; advice written once (what
    it wrote is returned). The run's row is read, not locked: the slices advise at once."""
    run = session.get(InventoryRun, (date.fromisoformat(inp.day), inp.scope))
    compiled, spec = ruleset(session, run.ruleset_version)
    floor = spec.overstock_floor
    params = {"day": run.day, "region": None if inp.scope == ALL_REGIONS else inp.scope,
              "floor": floor if floor is not None else 999999, "cover_under": spec.cover_under,
              "rising": spec.rising_months or 99, "fresh_days": spec.report_fresh_days,
              "slice": inp.slice, "slices": inp.slices}
    written, batch = 0, []
    # A slice's first advice of the day goes straight into the table by COPY; after any (a retry, a
    # region's run of the day) it goes through a staging table that skips what is stored.
    store = _copy if session.scalar(_SLICE_STORED, params) is None else _store
    shadows, shadowed = rulebook.shadows(session, RULESET), []
    decided: dict = {}  # the engine's decisions by the figures its rules read, within this step
    # A red item carries its task from the start (`conclude` opens it): no second write of the day's advice.
    red_levels = _red_levels(spec)
    # The audience as COPY reads an array: the file's audience keywords (no commas, quotes or braces).
    audiences = {severity: "{" + ",".join(told) + "}" for severity, told in spec.notify.items()}
    owners = _owners(session)
    tasks_of: dict = {}
    day = run.day.isoformat()  # as COPY reads it (and each task id as text): written once, not once a row

    def task_of(manager: str | None) -> str:
        if manager not in tasks_of:
            tasks_of[manager] = _task_id(run, _owner(owners, manager)[0])
        return tasks_of[manager]
    dealer_id = dealer = None
    for row in session.execute(_CANDIDATES, params).yield_per(2000):  # in dealer order
        if row.dealer_id != dealer_id:
            dealer_id, dealer = row.dealer_id, dealer_facts(row)
        facts = facts_for(row, dealer)
        if len(decided) >= MEMO_LIMIT:
            decided.clear()
        advised = advise(compiled, spec, facts, decided)
        if shadows:  # evaluated beside the live advice, stored, never advised
            shadowed.append(dict(
                ruleset=RULESET, subject=f"{run.day}:{row.code}:{row.sku}", live_version=compiled.version,
                live=advice_value(advised), live_reason="; ".join(a.reason for a in advised.advice),
                shadow=rulebook.beside(shadows, lambda s: _shadow_advice(s, facts)),
                context={"dealer": row.code, "region": row.region, "sku": row.sku, "day": run.day.isoformat()}))
        for a in advised.advice:  # the figures (built by the database) join the explanation as it is stored
            explanation = {"ruleset": compiled.name, "version": compiled.version, "rule": a.rule,
                           "rules_fired": list(advised.matched), "reason": a.reason, "facts": advised.facts,
                           "safety_stock": row.safety_stock}
            if a.action == "push_promotion":  # what the account manager pushes, from the file's catalogue
                resources = spec.resources_for(row.sku, row.category)
                explanation["resources"] = resources
                explanation["reason"] = a.reason + ("; resources: " + ", ".join(r["name"] for r in resources)
                                                    if resources else "; no promotion resource in the file serves"
                                                    f" {row.sku} ({row.category or 'no category'})")
            batch.append(dict(
                day=day, dealer_id=row.dealer_id, product_id=row.product_id, action=a.action,
                severity=a.severity, quantity=a.quantity, audience=audiences[a.severity],
                explanation=json.dumps(explanation)[:-1] + ', "figures": ' + row.figures + "}",
                task_id=task_of(row.account_manager) if a.severity in red_levels else None))
        if len(batch) >= BATCH:
            written += store(session, batch)
            batch = []
        if len(shadowed) >= 1000:
            rulebook.store_shadow_outcomes(session, shadowed)
            shadowed = []
    written += store(session, batch)
    rulebook.store_shadow_outcomes(session, shadowed)
    return written


def conclude(session: Session, inp: InventoryStepInput) -> AdviceResult:
    """After every slice: the day's automatic drafts, tasks and notifications, from what is stored
    (one pass over the day's advice sums it per dealer; only the items a task lists are read again)."""
    from dealerflow.inventory import replenishment

    run = session.get(InventoryRun, (date.fromisoformat(inp.day), inp.scope), with_for_update=True)
    _, spec = ruleset(session, run.ruleset_version)
    region = None if inp.scope == ALL_REGIONS else inp.scope
    owners = _owners(session)
    drafts = replenishment.automatic_drafts(session, day=run.day, region=region) if spec.auto_replenish else 0
    params = {"day": run.day, "region": region, "red": _red_levels(spec), "limit": LIST_LIMIT}
    summary = session.execute(_SUMMARY, params).all()
    red, specs = _tasks(session, spec, run, params, summary, inp.now, owners)
    _notify(session, run, params, summary, owners)
    advice = sum(s.advice for s in summary)
    run.stage = "advised"
    run.totals = {**(run.totals or {}), "advice": advice, "red": red, "automatic_drafts": drafts}
    return AdviceResult(advice, red, drafts, specs)


def advice_value(advised) -> str:
    """A dealer × sku's advice as replay and the shadow dashboard compare it: its actions, each with
    its severity and any reorder quantity ("none" for no advice)."""
    return ", ".join(f"{a.action}:{a.severity}" + (f" {a.quantity}" if a.quantity is not None else "")
                     for a in sorted(advised.advice, key=lambda a: a.action)) or "none"


def _shadow_advice(shadow: CompiledRuleset, facts: dict) -> dict:
    advised = advise(shadow, shadow.rule_file.spec, facts)
    return {"value": advice_value(advised), "outcome": {"advice": [a.action for a in advised.advice]},
            "rule": ", ".join(advised.matched), "reason": "; ".join(a.reason for a in advised.advice)}


# The advice's columns as a slice writes them; the explanation arrives whole (the figures the
# database built are joined to it as text).
_STAGED = ("day", "dealer_id", "product_id", "action", "severity", "quantity", "audience", "explanation", "task_id")
_SLICE_STORED = text("""select 1 from inventory_advice where day = :day and dealer_id % :slices = :slice
                        and (cast(:region as text) is null or dealer_id in (select id from dealers where region = :region))
                        limit 1""")
_STAGE = text("""create temporary table if not exists inventory_advice_stage (
    day date, dealer_id int, product_id int, action text, severity text, quantity int, audience text[],
    explanation jsonb, task_id uuid) on commit drop""")
_STORE = text(f"""
    with stored as (
        insert into inventory_advice ({", ".join(_STAGED)}) select * from inventory_advice_stage
        on conflict on constraint inventory_advice_once do nothing returning 1)
    select count(*) from stored""")
BATCH = 5000


def _copy(session: Session, rows: list[dict]) -> int:
    """A batch straight into the advice (a slice with none stored yet: two attempts at once
    collide on the key, and the retry skips what is stored)."""
    copy_rows(session, "inventory_advice", _STAGED, rows)
    return len(rows)


def _store(session: Session, rows: list[dict]) -> int:
    """A batch by COPY to a staging table, then into the advice once; the statement counts what it
    wrote (a piece stored before is skipped)."""
    if not rows:
        return 0
    session.execute(_STAGE)
    session.execute(text("truncate inventory_advice_stage"))
    copy_rows(session, "inventory_advice_stage", _STAGED, rows)
    return session.scalar(_STORE)


def _red_levels(spec: InventorySpec) -> list[str]:
    return [s for s, r in RANK.items() if r >= RANK[spec.task_from]]


def _task_id(run: InventoryRun, owner: str) -> str:
    """The day's task of an account manager (or HQ's, `hq`)."""
    return str(uuid.uuid5(TASK_NAMESPACE, f"{run.day}:{run.scope}:{owner}"))


def _owners(session: Session) -> dict[str, int]:
    """Account managers who can log in, by username: the only ones a day's task goes to."""
    return dict(session.execute(select(User.username, User.id).where(
        User.role == "account_manager", User.active)).all())


def _owner(owners: dict[str, int], manager: str | None) -> tuple[str, int | None]:
    """Whose task a dealer's red item goes to: its account manager's, or HQ's (`hq`) when it has
    none or its manager has no login."""
    user_id = owners.get(manager) if manager else None
    return (manager, user_id) if user_id else ("hq", None)


# The day's advice per dealer (and the task its red items name): what the tasks and notifications
# count, in one read of the advice, whose rows are large (each holds its explanation).
_SUMMARY = text("""
    select a.dealer_id, d.code, d.account_manager, a.task_id, count(*) as advice,
           count(*) filter (where a.severity = any(:red)) as red,
           count(*) filter (where 'dealer' = any(a.audience)) as to_dealer,
           count(*) filter (where 'account_manager' = any(a.audience)) as to_manager,
           count(*) filter (where 'hq' = any(a.audience)) as to_hq,
           count(*) filter (where a.action = 'push_promotion') as pushes
    from inventory_advice a join dealers d on d.id = a.dealer_id
    where a.day = :day and (cast(:region as text) is null or d.region = :region)
    group by 1, 2, 3, 4""")


def _first_dealers(summary, count: str, group_of) -> list[int]:
    """The dealers holding each group's first LIST_LIMIT items (dealers in code order): all a list
    of those items needs to read."""
    held: dict = defaultdict(int)
    dealers = []
    for row in sorted((r for r in summary if getattr(r, count)), key=lambda r: r.code):
        group = group_of(row)
        if held[group] < LIST_LIMIT:
            held[group] += getattr(row, count)
            dealers.append(row.dealer_id)
    return dealers


def _tasks(session: Session, spec: InventorySpec, run: InventoryRun, params: dict, summary,
           now: datetime, owners: dict[str, int]) -> tuple[int, list[TaskSpec]]:
    """One task per account manager listing its dealers' red items (a dealer without one, or whose
    account manager has no login, goes to HQ's task). A task lists its first LIST_LIMIT items."""
    groups: dict[str, dict] = {}
    task_of = {}  # account manager → the task its dealers' red items belong to
    for row in summary:
        if not row.red:
            continue
        owner, user_id = _owner(owners, row.account_manager)
        task_of[row.account_manager] = uuid.UUID(_task_id(run, owner))
        group = groups.setdefault(owner, {"user_id": user_id, "items": 0, "dealers": set(), "listed": []})
        group["items"] += row.red
        group["dealers"].add(row.dealer_id)
    listed = _first_dealers(summary, "red", lambda r: _owner(owners, r.account_manager)[0])
    for row in session.execute(_RED_LISTED, {**params, "dealers": listed}):
        groups[_owner(owners, row.account_manager)[0]]["listed"].append(row)
    specs = []
    for owner, group in sorted(groups.items()):
        user_id, items, dealers = group["user_id"], group["items"], len(group["dealers"])
        manager = owner if user_id else None
        role = "account_manager" if user_id else "hq"
        task_id = _task_id(run, owner)
        listed = sorted(group["listed"], key=lambda i: (i.code, i.sku, i.action))[:LIST_LIMIT]
        spec_ = TaskSpec(
            task_id=task_id, kind="inventory_red_items",
            title=f"Stock: {items} red item(s) at {dealers} dealer(s)" + (f" of {manager}" if manager else "")
                  + f" ({run.day})",
            subject_type="inventory", subject_id=f"{run.day}:{run.scope}", assignee_role=role,
            assignee_user_id=user_id, outcomes=["handled", "escalate"], sla_seconds=spec.task_sla_seconds,
            escalate_to=spec.task_escalate_to if role != "hq" else None,
            payload={"day": run.day.isoformat(), "account_manager": manager, "items": items, "dealers": dealers,
                     "link": "/console/inventory/red", "advice": [
                         {"id": i.id, "dealer": i.code, "dealer_name": i.name, "sku": i.sku, "product": i.product,
                          "action": i.action, "severity": i.severity, "quantity": i.quantity,
                          **({"resources": i.resources} if i.resources else {})}
                         for i in listed]})
        tasks.open_task(session, spec_, workflow_id=f"task-{task_id}", now=now)
        specs.append(spec_)
    # This run's advice already names its task; advice another scope's run stored earlier the same
    # day names that run's task, and is handed over to this one (one statement for every manager).
    if any(row.red and str(row.task_id) != str(task_of[row.account_manager]) for row in summary):
        session.execute(_HAND_OVER, {**params, "managers": [m or "" for m in task_of],
                                     "tasks": list(task_of.values())})
    return sum(g["items"] for g in groups.values()), specs


_RED_WHERE = """a.day = :day and a.severity = any(:red) and (cast(:region as text) is null or d.region = :region)"""
_RED_LISTED = text(f"""  -- the red items of the dealers a task lists, by the advice's dealer index
    select a.id, a.action, a.severity, a.quantity, a.explanation -> 'resources' as resources, d.code, d.name,
           d.account_manager, p.sku, p.name as product
    from inventory_advice a join dealers d on d.id = a.dealer_id join products p on p.id = a.product_id
    where a.dealer_id = any(cast(:dealers as int[])) and {_RED_WHERE}""")
_HAND_OVER = text(f"""
    update inventory_advice a set task_id = m.task
    from dealers d, unnest(cast(:managers as text[]), cast(:tasks as uuid[])) as m(manager, task)
    where d.id = a.dealer_id and coalesce(d.account_manager, '') = m.manager and {_RED_WHERE}
      and a.task_id is distinct from m.task""")


def _notify(session: Session, run: InventoryRun, params: dict, summary, owners: dict[str, int]) -> None:
    """Batched: one notification per dealer told, per account manager told, and one for HQ."""
    day = run.day.isoformat()
    dealers, managers = defaultdict(int), defaultdict(int)
    for row in summary:
        if row.to_dealer:
            dealers[row.dealer_id] += row.to_dealer
        if row.to_manager and row.account_manager in owners:  # who can log in
            managers[row.account_manager] += row.to_manager
    notify_each(session, [dict(dealer_id=dealer_id, kind="inventory", title=f"Stock advice for {day}: {n} item(s)",
                               link="/console/inventory", dedup_key=f"inventory:{day}:dealer:{dealer_id}")
                          for dealer_id, n in sorted(dealers.items())])
    pushes = _promotions(session, params, [r for r in summary if r.account_manager in managers])
    notify_each(session, [dict(user_id=owners[manager], kind="inventory", title=f"Stock advice for your dealers"
                               f" ({day}): {n} item(s)", body=pushes.get(manager, ""), link="/console/inventory/red",
                               dedup_key=f"inventory:{day}:am:{manager}")
                          for manager, n in sorted(managers.items())])
    if hq := sum(row.to_hq for row in summary):
        notify(session, role="hq", kind="inventory", title=f"Channel stock ({day}, {run.scope}): {hq} item(s) for HQ",
               link="/console/inventory/hq", dedup_key=f"inventory:{day}:hq:{run.scope}")


_PUSHES = text("""
    select d.account_manager, d.code, p.sku, a.explanation -> 'resources' as resources
    from inventory_advice a join dealers d on d.id = a.dealer_id join products p on p.id = a.product_id
    where a.dealer_id = any(cast(:dealers as int[])) and a.day = :day and a.action = 'push_promotion'
    order by 1, 2, 3""")


def _promotions(session: Session, params: dict, summary) -> dict[str, str]:
    """Each account manager's rising-orders advice with the promotion resources to push, as the
    notification's text (read from the stored advice, so a retry writes the same)."""
    dealers = _first_dealers(summary, "pushes", lambda r: r.account_manager)
    if not dealers:
        return {}
    lines: dict[str, list[str]] = defaultdict(list)
    for manager, code, sku, resources in session.execute(_PUSHES, {**params, "dealers": dealers}):
        if len(lines[manager]) < LIST_LIMIT:
            shown = "; ".join(r["name"] + (f" {r['link']}" if r.get("link") else "")
                              + (f" ({r['description']})" if r.get("description") else "") for r in resources or [])
            lines[manager].append(f"Rising orders of {sku} at {code}: push " + (shown or "a promotion (no resource"
                                                                               " in the rule file serves it)"))
    return {m: "\n".join(ls) for m, ls in lines.items()}


def close(session: Session, inp: InventoryStepInput) -> dict:
    run = session.get(InventoryRun, (date.fromisoformat(inp.day), inp.scope), with_for_update=True)
    if run.finished_at is None:
        pairs = session.scalar(select(func.count()).select_from(InventoryHealth).where(
            InventoryHealth.day == run.day, *([InventoryHealth.region == inp.scope] if inp.scope != ALL_REGIONS else [])))
        run.totals = {**(run.totals or {}), "pairs": pairs}
        run.stage, run.finished_at = "closed", inp.now
    return dict(run.totals)
