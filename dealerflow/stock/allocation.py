"""Stock for orders. At order time, in the order's own transaction (after the dealer's row lock):
the stock rows of its SKUs are locked, and when they hold fewer units than it asks for the allocation
rule file decides — backorder, partial, review or reject — and the order's place in the queue for
stock to come (`priority`). Reserved units count against on-hand stock under a CHECK (reserved <=
on_hand), so concurrent orders never oversell. A cancelled or rejected order releases what it held;
a shipment consumes it; more stock (set, adjusted, returned) fills waiting orders, highest priority
first, then oldest.

Every writer locks stock rows in (product, warehouse) order before it touches allocations, so no two
of them deadlock. A SKU without a stock row in any warehouse is not stock-managed: orders of it
reserve nothing."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl.kinds.allocation import with_defaults

from dealerflow.models import Dealer, Decision, Product, Stock, StockAllocation, StockMovement, Warehouse
from dealerflow.shared import rulebook, tier_benefits
from dealerflow.shared.dealer_facts import facts_of, select_facts

ALLOCATION_RULESET = "allocation"
# Without an allocation rule file, short orders wait for stock in the order they came.
NO_RULES = {"allocate": "backorder", "priority": 0}
# The subject of an order's allocation decision (its credit decision's is "order").
SUBJECT = "order_allocation"


@dataclass
class Plan:
    """The locked stock of an order's SKUs: product → [(warehouse id, units available)]."""
    stock: dict[int, list[list[int]]]
    wanted: dict[int, int]  # product → units the order asks for (stock-managed SKUs only)

    @property
    def units(self) -> int:
        return sum(self.wanted.values())

    @property
    def short(self) -> dict[int, int]:
        out = {}
        for pid, units in self.wanted.items():
            missing = units - sum(a for _, a in self.stock[pid])
            if missing > 0:
                out[pid] = missing
        return out

    @property
    def short_units(self) -> int:
        return sum(self.short.values())


@dataclass(frozen=True)
class Allocation:
    """What the rules decided for a short order (None for an order that is not short)."""
    action: str  # backorder | partial | review | reject
    priority: int
    outcome: dict
    explanation: dict | None  # None: no allocation rule file is deployed
    short_units: int
    units: int
    task: dict | None = None
    shadow: dict | None = None  # shadow versions' outcomes (rulebook.beside): stored, never acted on


@dataclass(frozen=True)
class Allocated:
    reserved: int
    backordered: int
    rows: list[dict] = field(default_factory=list)  # as an order's page shows them


class StaleStock(Exception):
    """The stock an order was decided on changed before it was locked: place it again, locked first."""


# Read on every order: built once.
_READ = (select(Stock.product_id, Stock.warehouse_id, Stock.on_hand - Stock.reserved)
         .where(Stock.product_id.in_(bindparam("products", expanding=True)))
         .order_by(Stock.product_id, Stock.warehouse_id))
_LOCK = _READ.with_for_update()


def lock(session: Session, lines: Sequence, *, for_update: bool = True) -> Plan:
    """Lock the stock rows of the lines' products (product, warehouse order) and say what is free;
    without `for_update`, only read them (an optimistic placement locks them last, see `check`)."""
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    rows = session.execute(_LOCK if for_update else _READ, {"products": sorted(wanted)}).all()
    stock: dict[int, list[list[int]]] = {}
    for pid, wid, available in rows:
        stock.setdefault(pid, []).append([wid, available])
    return Plan(stock, {pid: units for pid, units in wanted.items() if pid in stock})


def check(session: Session, seen: Plan, lines: Sequence) -> Plan:
    """The stock rows locked now, at the end of an optimistic placement: the plan to reserve from, if
    it is short just as the one the order was decided on (raises StaleStock otherwise). The rows stay
    locked only from here to the commit, so orders of one SKU wait for each other that long only."""
    locked = lock(session, lines)
    if locked.wanted != seen.wanted or locked.short != seen.short:
        raise StaleStock()
    return locked


def decide(session: Session, plan: Plan, *, dealer_id: int, amount) -> Allocation | None:
    """The allocation rules' decision for a short order (None: not short); `record` stores it."""
    short = plan.short_units
    if short == 0:
        return None
    units = plan.units
    try:  # the shadows come with the active version: no query more when one runs
        ruleset, shadows = rulebook.with_shadows(session, ALLOCATION_RULESET)
    except rulebook.UnknownRuleset:
        return Allocation(NO_RULES["allocate"], NO_RULES["priority"], dict(NO_RULES), None, short, units)
    row = session.execute(select_facts().where(Dealer.id == dealer_id)).one()
    # The tier's benefit: its supply priority (rules/tiering.yaml acts) is a fact the allocation rules read.
    facts = {**facts_of(row), **tier_benefits.facts(row.tier, tier_benefits.acts(session)),
             "order.amount": amount, "order.units": units, "order.short_units": short,
             "order.fill_percent": (units - short) * 100 // units}
    decision = ruleset.decide(with_defaults(ruleset, facts))
    # Every fact the platform supplies is kept, not only those this file reads: a replay of a
    # candidate that reads others is exact too.
    explanation = {**decision.to_dict(), "inputs": inputs_of(facts)}
    outcome = decision.outcome
    return Allocation(outcome["allocate"], int(outcome["priority"]), dict(outcome), explanation, short, units,
                      outcome.get("task"), rulebook.beside(shadows, lambda s: _shadow_decision(s, facts)))


def inputs_of(facts: dict) -> dict:
    """The facts, JSON-safe (money as its text to the cent)."""
    return {k: f"{v:.2f}" if isinstance(v, Decimal) else v for k, v in facts.items()}


def _shadow_decision(shadow, facts: dict) -> dict:
    d = shadow.decide(with_defaults(shadow, facts))
    return {"outcome": d.outcome, "rule": d.rule, "reason": d.reason}


def record(session: Session, allotted: Allocation, *, order_id: uuid.UUID, applied: str) -> dict | None:
    """The decision stored with its explanation, and what was done: `applied` differs from the rules'
    `allocate` only for a partial allocation of an order none of whose units are in stock (reject).
    Returns the row as stored (None without an allocation rule file)."""
    if allotted.explanation is None:
        return None
    facts = allotted.explanation.get("inputs") or allotted.explanation.get("facts") or {}
    row = dict(subject_type=SUBJECT, subject_id=str(order_id), ruleset=allotted.explanation["ruleset"],
               version=allotted.explanation["version"], rule=allotted.explanation["rule"], outcome=allotted.outcome,
               explanation={**allotted.explanation, "applied": applied, "short_units": allotted.short_units},
               context={"region": facts.get("dealer.region"), "tier": facts.get("dealer.tier"),
                        "dealer": facts.get("dealer.code"), "amount": facts.get("order.amount")},
               shadow=allotted.shadow)
    row["decided_at"] = session.scalar(insert(Decision).values(row).returning(Decision.decided_at))
    return row


def applied(outcome: dict | None, explanation: dict | None) -> str | None:
    """What an order's stored allocation decision did."""
    if outcome is None:
        return None
    return (explanation or {}).get("applied") or outcome["allocate"]


def cut(plan: Plan, lines: Sequence) -> list:
    """A partial allocation: each line cut to the units free for it (lines in order), empty lines
    dropped. Lines of SKUs that are not stock-managed stay whole."""
    free = {pid: sum(a for _, a in rows) for pid, rows in plan.stock.items()}
    out = []
    for line in lines:
        if line.product_id not in plan.wanted:
            out.append(line)
            continue
        take = min(line.quantity, free[line.product_id])
        free[line.product_id] -= take
        if take:
            out.append(replace(line, quantity=take))
    wanted: dict[int, int] = {}
    for line in out:
        if line.product_id in plan.stock:
            wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    plan.wanted = wanted
    return out


def reserve(session: Session, plan: Plan, *, order_id: uuid.UUID, lines: Sequence, priority: int) -> Allocated:
    """Reserve the lines' units from the locked stock (warehouse order); what is missing waits."""
    rows, taken = [], {}
    for line in lines:
        if line.product_id not in plan.wanted:
            continue
        need = line.quantity
        for slot in plan.stock[line.product_id]:
            take = min(need, slot[1])
            if take > 0:
                slot[1] -= take
                need -= take
                taken[(line.product_id, slot[0])] = taken.get((line.product_id, slot[0]), 0) + take
                rows.append(dict(order_id=order_id, line_no=line.line_no, product_id=line.product_id,
                                 warehouse_id=slot[0], quantity=take, status="reserved", priority=priority))
        if need:
            rows.append(dict(order_id=order_id, line_no=line.line_no, product_id=line.product_id, warehouse_id=None,
                             quantity=need, status="backordered", priority=priority))
    if rows:
        session.execute(insert(StockAllocation), rows)
    _hold(session, taken)
    warehouse_codes = dict(session.execute(select(Warehouse.id, Warehouse.code).where(
        Warehouse.id.in_({k[1] for k in taken}))).all()) if taken else {}
    sku_of = {line.line_no: line.sku for line in lines}
    shown = [dict(line_no=r["line_no"], sku=sku_of[r["line_no"]], warehouse=warehouse_codes.get(r["warehouse_id"]),
                  quantity=r["quantity"], status=r["status"], priority=r["priority"]) for r in rows]
    return Allocated(sum(taken.values()), sum(r["quantity"] for r in rows if r["status"] == "backordered"),
                     rows=shown)


def _hold(session: Session, taken: dict[tuple[int, int], int], *, sign: int = 1, consume: bool = False) -> None:
    """reserved (and, when consumed, on_hand) of each (product, warehouse) moved by its units."""
    if not taken:
        return
    keys = sorted(taken)
    session.execute(text(f"""
        update stock s set reserved = s.reserved + :sign * v.units,
               {"on_hand = s.on_hand - v.units," if consume else ""} updated_at = now()
        from unnest(cast(:pids as int[]), cast(:wids as int[]), cast(:units as int[])) as v(pid, wid, units)
        where s.product_id = v.pid and s.warehouse_id = v.wid"""),
        {"sign": sign, "pids": [k[0] for k in keys], "wids": [k[1] for k in keys],
         "units": [taken[k] for k in keys]})


def _lock_products(session: Session, product_ids: Iterable[int]) -> None:
    session.execute(select(Stock.product_id).where(Stock.product_id.in_(sorted(set(product_ids))))
                    .order_by(Stock.product_id, Stock.warehouse_id).with_for_update())


def _held(session: Session, order_ids: Sequence[uuid.UUID]) -> list:
    """The orders' open allocations, locked; their stock rows are locked first."""
    products = session.scalars(select(StockAllocation.product_id).distinct().where(
        StockAllocation.order_id.in_(order_ids), StockAllocation.status.in_(("reserved", "backordered")))).all()
    if not products:
        return []
    _lock_products(session, products)
    return session.scalars(select(StockAllocation).where(
        StockAllocation.order_id.in_(order_ids), StockAllocation.status.in_(("reserved", "backordered")))
        .order_by(StockAllocation.id).with_for_update()).all()


def release(session: Session, order_id: uuid.UUID) -> int:
    """A cancelled or rejected order lets go of its stock, which then fills waiting orders.
    Returns the units released (reserved and waiting)."""
    held = _held(session, [order_id])
    if not held:
        return 0
    taken: dict = {}
    for a in held:
        if a.status == "reserved":
            taken[(a.product_id, a.warehouse_id)] = taken.get((a.product_id, a.warehouse_id), 0) + a.quantity
    _hold(session, taken, sign=-1)
    session.execute(update(StockAllocation).where(StockAllocation.id.in_([a.id for a in held]))
                    .values(status="released", updated_at=func.now()).execution_options(synchronize_session=False))
    fill(session, sorted({a.product_id for a in held}))
    return sum(a.quantity for a in held)


def waiting(session: Session, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Units each order still waits for (backordered)."""
    return dict(session.execute(select(StockAllocation.order_id, func.sum(StockAllocation.quantity)).where(
        StockAllocation.order_id.in_(order_ids), StockAllocation.status == "backordered")
        .group_by(StockAllocation.order_id)).all())


def consume(session: Session, order_ids: Sequence[uuid.UUID], *, actor: str) -> int:
    """Shipped orders take their reserved units out of the warehouse. Returns units shipped."""
    held = [a for a in _held(session, list(order_ids)) if a.status == "reserved"]
    if not held:
        return 0
    taken: dict = {}
    for a in held:
        taken[(a.product_id, a.warehouse_id)] = taken.get((a.product_id, a.warehouse_id), 0) + a.quantity
    _hold(session, taken, sign=-1, consume=True)
    session.execute(update(StockAllocation).where(StockAllocation.id.in_([a.id for a in held]))
                    .values(status="consumed", updated_at=func.now()).execution_options(synchronize_session=False))
    after = {(p, w): o for p, w, o in session.execute(
        select(Stock.product_id, Stock.warehouse_id, Stock.on_hand).where(Stock.product_id.in_([k[0] for k in taken])))}
    references = {}
    for a in held:
        references.setdefault((a.product_id, a.warehouse_id), str(a.order_id))
    session.execute(insert(StockMovement), [
        dict(warehouse_id=w, product_id=p, delta=-units, on_hand=after[(p, w)], kind="shipment",
             reference=f"order {references[(p, w)]}", actor=actor) for (p, w), units in sorted(taken.items())])
    return sum(taken.values())


def restock(session: Session, returned: Sequence[tuple[uuid.UUID, int, int, str]], *, actor: str) -> int:
    """Returned goods (order, product, units, reference) back on hand in the warehouse they shipped
    from; then they fill waiting orders. Orders that reserved nothing (not stock-managed) add nothing."""
    if not returned:
        return 0
    order_ids = list({r[0] for r in returned})
    source = {}
    for oid, pid, wid in session.execute(select(StockAllocation.order_id, StockAllocation.product_id,
                                                StockAllocation.warehouse_id)
                                         .where(StockAllocation.order_id.in_(order_ids),
                                                StockAllocation.status == "consumed").order_by(StockAllocation.id)):
        source.setdefault((oid, pid), wid)
    moves = [(pid, source[(oid, pid)], units, ref) for oid, pid, units, ref in returned if (oid, pid) in source]
    if not moves:
        return 0
    _lock_products(session, [m[0] for m in moves])
    for pid, wid, units, ref in sorted(moves):
        on_hand = session.scalar(update(Stock).where(Stock.product_id == pid, Stock.warehouse_id == wid)
                                 .values(on_hand=Stock.on_hand + units, updated_at=func.now())
                                 .returning(Stock.on_hand))
        session.add(StockMovement(warehouse_id=wid, product_id=pid, delta=units, on_hand=on_hand, kind="return",
                                  reference=ref, actor=actor))
    session.flush()
    fill(session, sorted({m[0] for m in moves}))
    return sum(m[2] for m in moves)


def fill(session: Session, product_ids: Sequence[int]) -> int:
    """Waiting units of these products reserved from free stock: highest priority first, then the
    oldest. Returns the units reserved."""
    filled = 0
    for pid in sorted(set(product_ids)):
        free = [list(r) for r in session.execute(
            select(Stock.warehouse_id, Stock.on_hand - Stock.reserved).where(Stock.product_id == pid)
            .order_by(Stock.warehouse_id).with_for_update())]
        if sum(a for _, a in free) <= 0:
            continue
        waiting_rows = session.scalars(select(StockAllocation).where(
            StockAllocation.product_id == pid, StockAllocation.status == "backordered")
            .order_by(StockAllocation.priority.desc(), StockAllocation.created_at, StockAllocation.id)
            .with_for_update()).all()
        taken: dict = {}
        for a in waiting_rows:
            need = a.quantity
            for slot in free:
                take = min(need, slot[1])
                if take > 0:
                    slot[1] -= take
                    need -= take
                    taken[(pid, slot[0])] = taken.get((pid, slot[0]), 0) + take
                    session.add(StockAllocation(order_id=a.order_id, line_no=a.line_no, product_id=pid,
                                                warehouse_id=slot[0], quantity=take, status="reserved",
                                                priority=a.priority))
            if need == a.quantity:
                break  # nothing left to give
            if need:
                a.quantity = need
            else:
                session.execute(delete(StockAllocation).where(StockAllocation.id == a.id))
        session.flush()
        _hold(session, taken)
        filled += sum(taken.values())
    return filled


def order_allocations(session: Session, order_id: uuid.UUID) -> list:
    """An order's allocations for its page: rows of (line_no, sku, warehouse code or None, units, status)."""
    q = (select(StockAllocation.line_no, Product.sku, Warehouse.code, StockAllocation.quantity,
                StockAllocation.status, StockAllocation.priority)
         .join(Product, Product.id == StockAllocation.product_id)
         .outerjoin(Warehouse, Warehouse.id == StockAllocation.warehouse_id)
         .where(StockAllocation.order_id == order_id).order_by(StockAllocation.line_no, StockAllocation.id))
    return session.execute(q).all()
