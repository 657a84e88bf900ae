"""Fulfilment and the money that follows it: shipments and deliveries of approved orders (a delivery
is booked to the dealer's account), returns of delivered goods, and payments, which complete an order
once they cover what it still owes.

Each kind comes in as a batch of rows, from a JSON array or a CSV file, and goes through one
mechanism: every row is parsed and checked first, and any problem (named by its CSV line or JSON
index, field and what is wrong) refuses the whole batch with nothing written; otherwise the batch
is applied in the caller's transaction by a few set-based statements, whatever its size."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Mapping, Sequence

from sqlalchemy import any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.orm import Session

from dealerflow.shared import accounts
from dealerflow.stock import allocation
from dealerflow.diversion import codes as product_codes
from dealerflow.shared.uploads import BadValue, BatchError, Problem, parse_amount, parse_time, read_table, text_of
from dealerflow.models import Dealer, Order, OrderEvent, OrderLine, OrderReturn, Payment

KINDS = ("shipments", "deliveries", "returns", "payments")
MAX_UPLOAD = 20 * 1024 * 1024
# Clocks of the ERP and ours disagree a little; a time further ahead is a mistake.
CLOCK_SKEW = timedelta(minutes=10)
# Orders a payment may be made against (a deposit may come before shipping).
PAYABLE = ("approved", "shipped", "delivered", "completed")
RETURNABLE = ("delivered", "completed")


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.required + self.optional


COLUMNS = {
    "shipments": Columns(("order_id", "shipped_at"), ("codes",)),  # the product codes leaving with the order
    "deliveries": Columns(("order_id", "delivered_at")),
    "returns": Columns(("reference", "order_id", "sku", "quantity", "returned_at"), ("reason",)),
    # A payment names its order, its dealer (by code), or both.
    "payments": Columns(("reference", "amount", "paid_at"), ("order_id", "dealer", "method")),
}


@dataclass(frozen=True)
class Recorded:
    kind: str
    rows: int
    recorded: int  # rows that changed something
    unchanged: int = 0  # shipments or deliveries already recorded with the same time
    completed: int = 0  # orders this batch left paid in full


# --- reading rows -----------------------------------------------------------------------------------

def read_csv(kind: str, data: bytes) -> tuple[list[dict[str, str]], list[int]]:
    """Rows of a CSV file (UTF-8, comma-separated, a header row naming the columns) with the line
    each starts on. Raises NotText for content that is not CSV text, BatchError for a bad header."""
    columns = COLUMNS[kind]
    table = read_table(text_of(data))
    expected = ", ".join(columns.names)
    if not table.header_line:
        raise BatchError([Problem(1, None, f"empty file: expected a header row with {expected}")], unit="line")
    header_line, names = table.header_line, table.names
    problems = []
    for name in names:
        if name not in columns.names:
            hint = "columns are separated by commas" if (";" in name or "\t" in name) else f"expected {expected}"
            problems.append(Problem(header_line, name or "(blank)", f"unknown column; {hint}"))
        elif names.count(name) > 1 and name not in {p.field for p in problems}:
            problems.append(Problem(header_line, name, "column appears more than once"))
    problems += [Problem(header_line, name, "missing column") for name in columns.required if name not in names]
    if problems:
        raise BatchError(problems, unit="line")

    bad = [Problem(line, None, f"{cells} values for {len(names)} columns") for line, cells in table.misfits]
    if bad:
        raise BatchError(bad, unit="line")
    return table.rows, table.lines


# --- parsing values ---------------------------------------------------------------------------------

def _quantity(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise BadValue(f"expected a whole number of units, got {raw!r}")
    quantity = int(raw)
    if not 0 < quantity <= 1_000_000:
        raise BadValue(f"must be between 1 and 1000000, got {raw!r}")
    return quantity


def _order_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise BadValue(f"unknown order {raw!r}", "unknown") from None


def _text(limit: int):
    def parse(raw: str) -> str:
        if len(raw) > limit:
            raise BadValue(f"at most {limit} characters, got {len(raw)}")
        return raw
    return parse


def _code_list(raw: str) -> list[str]:
    """Product codes separated by spaces or semicolons."""
    listed = [c for c in re.split(r"[\s;]+", raw) if c]
    if len(listed) > product_codes.MAX_LISTED:
        raise BadValue(f"at most {product_codes.MAX_LISTED} codes a shipment, got {len(listed)}")
    return listed


_PARSERS = {
    "order_id": _order_id, "shipped_at": parse_time, "delivered_at": parse_time, "returned_at": parse_time,
    "paid_at": parse_time, "amount": parse_amount, "quantity": _quantity, "reference": _text(64), "sku": _text(64),
    "dealer": _text(32), "method": _text(32), "reason": _text(2000), "codes": _code_list,
}
BAD = object()  # a value that did not parse (its problem is reported); checks needing it are skipped


class _Batch:
    """Rows being checked: their parsed values and the problems found so far."""

    def __init__(self, kind: str, rows: Sequence[Mapping[str, object]], lines: Sequence[int] | None,
                 now: datetime | None):
        if lines is not None and len(lines) != len(rows):
            raise ValueError("one line number per row")
        self.unit = "index" if lines is None else "line"
        self.numbers = list(lines) if lines is not None else list(range(len(rows)))
        self.problems: list[Problem] = []
        latest = (now or datetime.now(timezone.utc)) + CLOCK_SKEW
        columns = COLUMNS[kind]
        self.values: list[dict] = []
        for n, raw in zip(self.numbers, rows):
            for name in raw:
                if name not in columns.names:
                    self.problem(n, name, f"unknown field; expected {', '.join(columns.names)}")
            out = {}
            for name in columns.names:
                value = raw.get(name)
                if isinstance(value, (dict, list, bool)):
                    out[name] = BAD
                    self.problem(n, name, f"expected a string, got {value!r}")
                    continue
                value = "" if value is None else str(value).strip()
                if not value:
                    out[name] = BAD if name in columns.required else None
                    if name in columns.required:
                        self.problem(n, name, "required")
                    continue
                try:
                    out[name] = _PARSERS[name](value)
                except BadValue as e:
                    out[name] = BAD
                    self.problem(n, name, str(e), e.kind)
                    continue
                if isinstance(out[name], datetime) and out[name] > latest:
                    out[name] = BAD
                    self.problem(n, name, f"{value!r} is in the future")
            self.values.append(out)

    def problem(self, row: int, field: str | None, message: str, kind: str = "invalid") -> None:
        self.problems.append(Problem(row, field, message, kind))

    def rows(self):
        return zip(self.numbers, self.values)

    def ids(self, name: str = "order_id") -> list[uuid.UUID]:
        return list({v[name] for v in self.values if isinstance(v[name], uuid.UUID)})

    def check(self) -> None:
        if self.problems:
            raise BatchError(self.problems, unit=self.unit)

    def first_use(self, name: str):
        """A function telling, for a row's value of `name`, the earlier row that had it (or None)."""
        seen: dict = {}

        def earlier(n: int, value):
            if value is None or value is BAD:
                return None
            first = seen.setdefault(value, n)
            return None if first == n else first
        return earlier

    def where(self, n: int) -> str:
        return f"line {n}" if self.unit == "line" else f"[{n}]"


def _uuids(ids: Sequence[uuid.UUID]):
    """One array parameter, not a parameter per id: a batch may name 100,000 orders."""
    return bindparam(None, list(ids), type_=ARRAY(UUID(as_uuid=True)))


def _lock_orders(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, object]:
    """The orders a batch names, locked (in id order, so concurrent batches cannot deadlock) until
    the batch commits: their checks then hold when it is applied."""
    if not ids:
        return {}
    q = (select(Order.id, Order.dealer_id, Order.status, Order.amount, Order.created_at, Order.shipped_at,
                Order.delivered_at, Dealer.code.label("dealer_code"))
         .join(Dealer, Dealer.id == Order.dealer_id)
         .where(Order.id == any_(_uuids(ids))).order_by(Order.id).with_for_update(of=Order))
    return {row.id: row for row in session.execute(q)}


def _recorded_references(session: Session, model, references: list[str]) -> set[str]:
    if not references:
        return set()
    return set(session.scalars(select(model.reference).where(
        model.reference == any_(bindparam(None, references, type_=ARRAY(model.reference.type))))))


def _references(batch: _Batch, session: Session, model) -> None:
    """Each reference once in the batch and not recorded before: a re-sent file is refused."""
    earlier = batch.first_use("reference")
    recorded = _recorded_references(session, model, [v["reference"] for v in batch.values
                                                     if isinstance(v["reference"], str)])
    for n, v in batch.rows():
        ref = v["reference"]
        if (first := earlier(n, ref)) is not None:
            batch.problem(n, "reference", f"duplicate reference {ref!r} (also on {batch.where(first)})", "conflict")
        elif ref in recorded:
            batch.problem(n, "reference", f"{ref!r} is already recorded", "conflict")


def _iso(at: datetime) -> str:
    return at.astimezone(accounts.CHINA).isoformat()


# --- shipments and deliveries -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Move:
    field: str
    status: str
    before: str  # the status it moves from
    after: tuple[str, ...]  # statuses an order reaches only through this move


_MOVES = {
    "shipments": _Move("shipped_at", "shipped", "approved", ("shipped", "delivered", "completed")),
    "deliveries": _Move("delivered_at", "delivered", "shipped", ("delivered", "completed")),
}


def record_shipments(session: Session, *, rows: Sequence[Mapping[str, object]], actor: str,
                     lines: Sequence[int] | None = None, now: datetime | None = None) -> Recorded:
    """Approved orders → shipped. Rows: order_id, shipped_at. `lines` are the rows' CSV line
    numbers (without them, rows are named by their index)."""
    return _record_moves(session, "shipments", rows, lines, actor, now)


def record_deliveries(session: Session, *, rows: Sequence[Mapping[str, object]], actor: str,
                      lines: Sequence[int] | None = None, now: datetime | None = None) -> Recorded:
    """Shipped orders → delivered, each booked to its dealer's account. Rows: order_id, delivered_at."""
    return _record_moves(session, "deliveries", rows, lines, actor, now)


def _record_moves(session: Session, kind: str, rows, lines, actor: str, now) -> Recorded:
    move = _MOVES[kind]
    batch = _Batch(kind, rows, lines, now)
    orders = _lock_orders(session, batch.ids())
    earlier = batch.first_use("order_id")
    moving: list[tuple] = []
    bindings: list[tuple] = []
    unchanged = 0
    for n, v in batch.rows():
        oid, at = v["order_id"], v[move.field]
        if oid is BAD:
            continue
        order = orders.get(oid)
        if order is None:
            batch.problem(n, "order_id", f"unknown order {str(oid)!r}", "unknown")
        elif (first := earlier(n, oid)) is not None:
            batch.problem(n, "order_id", f"order {oid} is also on {batch.where(first)}")
        elif order.status in move.after:
            recorded = getattr(order, move.field)
            if at is not BAD and recorded == at:
                unchanged += 1  # a re-import of the same event
            else:
                batch.problem(n, "order_id", f"order {oid} was already {move.status} "
                              + (f"at {_iso(recorded)}" if recorded else f"(it is {order.status})"), "conflict")
        elif order.status != move.before:
            message = (f"order {oid} has not been shipped: record its shipment first"
                       if kind == "deliveries" and order.status == "approved" else
                       f"order {oid} is {order.status}: only an order {move.before} can be {move.status}")
            batch.problem(n, "order_id", message, "conflict")
        elif at is not BAD:
            floor = (order.shipped_at if kind == "deliveries" else
                     accounts.day_start(accounts.business_date(order.created_at)))
            if at < floor:
                what = "shipped" if kind == "deliveries" else "placed"
                batch.problem(n, move.field, f"{_iso(at)} is before the order was {what} ({_iso(floor)})")
            else:
                moving.append((order, at))
                if v.get("codes"):
                    bindings.append((n, order, at, v["codes"]))
    if kind == "shipments" and moving:  # an order ships whole: every unit reserved, none waiting
        short = allocation.waiting(session, [o.id for o, _ in moving])
        row_of = {v["order_id"]: n for n, v in batch.rows()}
        for o, _ in moving:
            if short.get(o.id):
                batch.problem(row_of[o.id], "order_id", f"order {o.id} waits for {short[o.id]} unit(s) of stock: "
                                                        "it ships once they are reserved", "conflict")
    for n, order, at, listed in bindings:  # codes leaving with the order: bound to its dealer and region
        try:
            product_codes.bind(session, codes=listed, order_id=order.id, actor=actor, now=at)
        except product_codes.CodeError as e:
            for p in e.problems:
                batch.problem(n, "codes", p["message"], "conflict" if e.status == 409 else "invalid")
    batch.check()
    if moving:
        session.execute(text(f"""
            update orders o set status = :status, {move.field} = v.at, updated_at = now()
            from unnest(cast(:ids as uuid[]), cast(:ats as timestamptz[])) as v(id, at) where o.id = v.id"""),
            {"status": move.status, "ids": [str(o.id) for o, _ in moving], "ats": [at for _, at in moving]})
        note = "shipped" if kind == "shipments" else "delivered; {amount} booked to the dealer's account"
        _events(session, [dict(order_id=o.id, status=move.status, at=at, actor=actor,
                               note=note.format(amount=f"{o.amount:.2f}")) for o, at in moving])
        if kind == "shipments":  # the reserved units leave their warehouses
            allocation.consume(session, [o.id for o, _ in moving], actor=actor)
    completed = 0
    if kind == "deliveries" and moving:
        accounts.book(session, [accounts.entry(
            dealer_id=o.dealer_id, kind="delivery", amount=o.amount, value_date=accounts.business_date(at),
            source_type="order", source_id=str(o.id), note="order delivered") for o, at in moving])
        completed = _complete_paid(session, [o.id for o, _ in moving], actor)  # paid before it arrived
    return Recorded(kind, len(batch.values), len(moving), unchanged, completed)


def _events(session: Session, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(OrderEvent.__table__), rows)


def _complete_paid(session: Session, order_ids: list[uuid.UUID], actor: str) -> int:
    """Delivered orders whose payments cover their amount less their returns → completed."""
    if not order_ids:
        return 0
    o = Order.__table__
    returned = (select(func.coalesce(func.sum(OrderReturn.amount), 0)).where(OrderReturn.order_id == o.c.id)
                .scalar_subquery())
    paid = select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.order_id == o.c.id).scalar_subquery()
    # The order was settled by its last payment or return (or on delivery, when it was prepaid).
    settled = func.greatest(o.c.delivered_at,
                            select(func.max(Payment.paid_at)).where(Payment.order_id == o.c.id).scalar_subquery(),
                            select(func.max(OrderReturn.returned_at)).where(OrderReturn.order_id == o.c.id)
                            .scalar_subquery())
    done = session.execute(
        update(o).where(o.c.id == any_(_uuids(order_ids)), o.c.status == "delivered", paid >= o.c.amount - returned)
        .values(status="completed", updated_at=func.now())
        .returning(o.c.id, settled, paid, o.c.amount - returned)).all()
    _events(session, [dict(order_id=oid, status="completed", at=at, actor=actor,
                           note=f"paid in full: {p:.2f} received for {due:.2f} due") for oid, at, p, due in done])
    return len(done)


# --- returns ----------------------------------------------------------------------------------------

def record_returns(session: Session, *, rows: Sequence[Mapping[str, object]], actor: str,
                   lines: Sequence[int] | None = None, now: datetime | None = None) -> Recorded:
    """Goods sent back from delivered orders, credited to the dealer's account at the order's unit
    price. Rows: reference, order_id, sku, quantity, returned_at, reason (optional)."""
    batch = _Batch("returns", rows, lines, now)
    _references(batch, session, OrderReturn)
    ids = batch.ids()
    orders = _lock_orders(session, ids)
    # (order, sku) → [product, unit price, units delivered less units returned so far]
    open_units: dict[tuple, list] = {}
    if ids:
        # An order lists a SKU once per line; lines of one SKU were priced together, at one price.
        for oid, sku, product_id, price, quantity in session.execute(
                select(OrderLine.order_id, OrderLine.sku, OrderLine.product_id, func.min(OrderLine.unit_price),
                       func.sum(OrderLine.quantity)).where(OrderLine.order_id == any_(_uuids(ids)))
                .group_by(OrderLine.order_id, OrderLine.sku, OrderLine.product_id)):
            open_units[(oid, sku)] = [product_id, price, int(quantity)]
        for oid, sku, quantity in session.execute(
                select(OrderReturn.order_id, OrderReturn.sku, func.sum(OrderReturn.quantity))
                .where(OrderReturn.order_id == any_(_uuids(ids))).group_by(OrderReturn.order_id, OrderReturn.sku)):
            if (oid, sku) in open_units:
                open_units[(oid, sku)][2] -= int(quantity)
    returns, entries = [], []
    for n, v in batch.rows():
        oid, sku, quantity, at = v["order_id"], v["sku"], v["quantity"], v["returned_at"]
        if oid is BAD:
            continue
        order = orders.get(oid)
        if order is None:
            batch.problem(n, "order_id", f"unknown order {str(oid)!r}", "unknown")
            continue
        if order.status not in RETURNABLE:
            batch.problem(n, "order_id", f"order {oid} is {order.status}: only delivered goods can be returned",
                          "conflict")
            continue
        delivered_on = accounts.business_date(order.delivered_at) if order.delivered_at else None
        if at is not BAD and delivered_on and at < accounts.day_start(delivered_on):
            batch.problem(n, "returned_at", f"{_iso(at)} is before the order was delivered "
                                            f"({_iso(order.delivered_at)})")
        if sku is BAD:
            continue
        line = open_units.get((oid, sku))
        if line is None:
            batch.problem(n, "sku", f"order {oid} has no line of SKU {sku!r}")
            continue
        if quantity is BAD:
            continue
        if quantity > line[2]:
            batch.problem(n, "quantity", f"{quantity} is more than the {max(line[2], 0)} unit(s) of {sku} "
                                         f"delivered and not yet returned on order {oid}")
            continue
        line[2] -= quantity  # later rows of the batch return from what is left
        amount = line[1] * quantity
        if not batch.problems:
            returns.append(dict(reference=v["reference"], order_id=oid, dealer_id=order.dealer_id, product_id=line[0],
                                sku=sku, quantity=quantity, amount=amount, returned_at=at,
                                reason=v["reason"] or "", recorded_by=actor))
            entries.append(accounts.entry(dealer_id=order.dealer_id, kind="return", amount=amount,
                                          value_date=accounts.business_date(at), source_type="return",
                                          source_id=v["reference"], note=f"return of {quantity} × {sku}"))
    batch.check()
    _insert_once(session, batch, OrderReturn, returns)
    allocation.restock(session, [(r["order_id"], r["product_id"], r["quantity"], f"return {r['reference']}")
                                 for r in returns], actor=actor)  # back on hand where they shipped from
    accounts.book(session, entries)
    completed = _complete_paid(session, list({r["order_id"] for r in returns}), actor)  # nothing left to pay
    return Recorded("returns", len(batch.values), len(returns), completed=completed)


def _insert_once(session: Session, batch: _Batch, model, rows: list[dict]) -> None:
    """Insert rows by their unique reference. A reference another transaction recorded since the
    checks fails the batch like any duplicate (the caller rolls back)."""
    if not rows:
        return
    table = model.__table__
    inserted = set(session.scalars(insert(table).on_conflict_do_nothing(index_elements=["reference"])
                                   .returning(table.c.reference), rows))
    if len(inserted) < len(rows):
        row_of = {v["reference"]: n for n, v in batch.rows()}
        raise BatchError([Problem(row_of.get(r["reference"]), "reference", f"{r['reference']!r} is already recorded",
                                  "conflict") for r in rows if r["reference"] not in inserted], unit=batch.unit)


# --- payments ---------------------------------------------------------------------------------------

def record_payments(session: Session, *, rows: Sequence[Mapping[str, object]], actor: str,
                    lines: Sequence[int] | None = None, now: datetime | None = None) -> Recorded:
    """Money received from dealers, credited to their accounts; a delivered order whose payments
    cover it is completed. Rows: reference, amount, paid_at, and order_id or dealer (a dealer code)
    or both; method (optional, default transfer)."""
    batch = _Batch("payments", rows, lines, now)
    _references(batch, session, Payment)
    orders = _lock_orders(session, batch.ids())
    codes = list({v["dealer"] for v in batch.values if isinstance(v["dealer"], str)})
    dealers = dict(session.execute(select(Dealer.code, Dealer.id).where(
        Dealer.code == any_(bindparam(None, codes, type_=ARRAY(Dealer.code.type))))).all()) if codes else {}
    payments, entries = [], []
    for n, v in batch.rows():
        oid, code = v["order_id"], v["dealer"]
        order = dealer_id = None
        if oid is not None and oid is not BAD:
            order = orders.get(oid)
            if order is None:
                batch.problem(n, "order_id", f"unknown order {str(oid)!r}", "unknown")
            elif order.status not in PAYABLE:
                batch.problem(n, "order_id", f"order {oid} is {order.status}: it takes no payment", "conflict")
            else:
                dealer_id = order.dealer_id
        if code is not None and code is not BAD:
            if code not in dealers:
                batch.problem(n, "dealer", f"unknown dealer {code!r}", "unknown")
            elif order is not None and dealers[code] != order.dealer_id:
                batch.problem(n, "dealer", f"order {oid} is dealer {order.dealer_code}'s, not {code}'s")
            else:
                dealer_id = dealers[code]
        elif oid is None:
            batch.problem(n, "dealer", "required when no order_id is given")
        if dealer_id is not None and not batch.problems:
            payments.append(dict(reference=v["reference"], dealer_id=dealer_id, order_id=order.id if order else None,
                                 amount=v["amount"], paid_at=v["paid_at"], method=v["method"] or "transfer",
                                 recorded_by=actor))
            entries.append(accounts.entry(dealer_id=dealer_id, kind="payment", amount=v["amount"],
                                          value_date=accounts.business_date(v["paid_at"]), source_type="payment",
                                          source_id=v["reference"], note=f"payment {v['reference']}"))
    batch.check()
    _insert_once(session, batch, Payment, payments)
    accounts.book(session, entries)
    completed = _complete_paid(session, list({p["order_id"] for p in payments if p["order_id"]}), actor)
    return Recorded("payments", len(batch.values), len(payments), completed=completed)


RECORDERS = {"shipments": record_shipments, "deliveries": record_deliveries, "returns": record_returns,
             "payments": record_payments}


def import_csv(session: Session, *, kind: str, data: bytes, actor: str, now: datetime | None = None) -> Recorded:
    """A CSV file of one kind, all or nothing. Raises NotText or BatchError (lines named)."""
    rows, lines = read_csv(kind, data)
    return RECORDERS[kind](session, rows=rows, actor=actor, lines=lines, now=now)


# --- reading ----------------------------------------------------------------------------------------

def _listing(q, model, at, *, scope, dealer: str | None, start: date | None, end: date | None,
             limit: int, offset: int):
    condition = scope(model.dealer_id) if scope is not None else None
    if condition is not None:  # the caller's dealers (api/scope.py decides which)
        q = q.where(condition)
    if dealer:
        q = q.where(Dealer.code == dealer)
    if start:
        q = q.where(at >= accounts.day_start(start))
    if end and end < date.max:  # the last day there is has no end to compare with
        q = q.where(at < accounts.day_start(end + timedelta(days=1)))
    return q.order_by(at.desc(), model.id.desc()).limit(limit).offset(offset)


def payments(session: Session, *, scope=None, dealer: str | None = None, start: date | None = None,
             end: date | None = None, limit: int = 100, offset: int = 0) -> list:
    """Payments, newest first: rows of (Payment, dealer code). `scope` maps the dealer id column to
    the condition of the dealers the caller may see (None: everyone's); `start` and `end` are business days, both included."""
    q = select(Payment, Dealer.code).join(Dealer, Dealer.id == Payment.dealer_id)
    return session.execute(_listing(q, Payment, Payment.paid_at, scope=scope, dealer=dealer, start=start, end=end,
                                    limit=limit, offset=offset)).all()


def returns(session: Session, *, scope=None, dealer: str | None = None, start: date | None = None,
            end: date | None = None, limit: int = 100, offset: int = 0) -> list:
    """Returns, newest first: rows of (OrderReturn, dealer code); filters as for `payments`."""
    q = select(OrderReturn, Dealer.code).join(Dealer, Dealer.id == OrderReturn.dealer_id)
    return session.execute(_listing(q, OrderReturn, OrderReturn.returned_at, scope=scope, dealer=dealer,
                                    start=start, end=end, limit=limit, offset=offset)).all()
