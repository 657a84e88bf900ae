"""Warehouses and stock levels: created and set from the ERP (JSON rows, a CSV or .xlsx file),
adjusted by hand, read by HQ. A batch is checked whole first — an unknown warehouse or SKU, a
negative count, on hand below what orders hold — and any problem refuses all of it, naming its row.

Stock rows are locked in (product, warehouse) order by every writer, orders included, so concurrent
batches and orders cannot deadlock; more stock on hand fills waiting orders (allocation.fill)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid
from dealerflow.models import Product, Stock, StockAllocation, StockMovement, Warehouse
from dealerflow.shared.uploads import read_upload_table

from . import allocation

MAX_UNITS = 10_000_000  # on hand of one SKU in one warehouse
MAX_ROWS = 100_000
MAX_UPLOAD = 20 * 1024 * 1024
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
SET_COLUMNS = ("warehouse", "sku", "on_hand")


@dataclass(frozen=True)
class StockLevel:
    warehouse: str
    warehouse_name: str
    sku: str
    product_name: str
    on_hand: int
    reserved: int
    backordered: int  # units of this SKU orders wait for (all warehouses)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class StockSet:
    rows: int
    changed: int
    filled: int  # backordered units now reserved


# --- warehouses -------------------------------------------------------------------------------------

def create_warehouse(session: Session, *, code: str, name: str, region: str | None = None) -> Warehouse:
    code, name = code.strip(), name.strip()
    if not CODE.match(code):
        raise Invalid("letters, digits, '.', '_' or '-', at most 32 characters", field="code")
    if not name or len(name) > 200:
        raise Invalid("required, at most 200 characters", field="name")
    if session.scalar(select(Warehouse.id).where(Warehouse.code == code)) is not None:
        raise Conflict(f"warehouse {code!r} already exists", field="code")
    warehouse = Warehouse(code=code, name=name, region=(region or "").strip() or None)
    session.add(warehouse)
    session.flush()
    return warehouse


def warehouses(session: Session) -> list[Warehouse]:
    return list(session.scalars(select(Warehouse).order_by(Warehouse.code)))


# --- reading ----------------------------------------------------------------------------------------

def levels(session: Session, *, warehouse: str | None = None, sku: str | None = None, limit: int = 500,
           offset: int = 0) -> list[StockLevel]:
    waiting = (select(StockAllocation.product_id, func.sum(StockAllocation.quantity).label("units"))
               .where(StockAllocation.status == "backordered").group_by(StockAllocation.product_id).subquery())
    q = (select(Warehouse.code, Warehouse.name, Product.sku, Product.name, Stock.on_hand, Stock.reserved,
                func.coalesce(waiting.c.units, 0))
         .join(Warehouse, Warehouse.id == Stock.warehouse_id).join(Product, Product.id == Stock.product_id)
         .outerjoin(waiting, waiting.c.product_id == Stock.product_id))
    if warehouse:
        q = q.where(Warehouse.code == warehouse)
    if sku:
        q = q.where(Product.sku == sku)
    q = q.order_by(Product.sku, Warehouse.code).limit(limit).offset(offset)
    return [StockLevel(*row) for row in session.execute(q)]


def count(session: Session, *, warehouse: str | None = None, sku: str | None = None) -> int:
    q = (select(func.count()).select_from(Stock).join(Warehouse, Warehouse.id == Stock.warehouse_id)
         .join(Product, Product.id == Stock.product_id))
    if warehouse:
        q = q.where(Warehouse.code == warehouse)
    if sku:
        q = q.where(Product.sku == sku)
    return session.scalar(q) or 0


# --- writing ----------------------------------------------------------------------------------------

def _problem(unit: str, row: int, field: str | None, message: str) -> dict:
    return {unit: row, **({"field": field} if field else {}), "message": message}


def _count(raw, *, signed: bool) -> int:
    text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
    if isinstance(raw, bool) or isinstance(raw, float) or not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise ValueError(f"expected a whole number of units, got {raw!r}")
    value = int(text)
    if not signed and value < 0:
        raise ValueError(f"cannot be negative, got {value}")
    if abs(value) > MAX_UNITS:
        raise ValueError(f"at most {MAX_UNITS:,} units")
    return value


def _resolve(session: Session, rows: Sequence[Mapping], numbers: Sequence[int], unit: str, value_field: str,
             signed: bool) -> tuple[list[tuple[int, int, int, int]], list[dict]]:
    """Each row → (row number, warehouse id, product id, value), and every problem found."""
    problems: list[dict] = []
    codes = {str(r.get("warehouse") or "").strip() for r in rows}
    skus = {str(r.get("sku") or "").strip() for r in rows}
    warehouse_ids = dict(session.execute(select(Warehouse.code, Warehouse.id).where(Warehouse.code.in_(codes))).all())
    product_ids = dict(session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all())
    out, seen = [], {}
    for n, raw in zip(numbers, rows):
        unknown = [k for k in raw if k not in ("warehouse", "sku", value_field, "reason")]
        for k in unknown:
            problems.append(_problem(unit, n, k, f"unknown field; expected warehouse, sku, {value_field}"))
        code, sku = str(raw.get("warehouse") or "").strip(), str(raw.get("sku") or "").strip()
        wid, pid, value = warehouse_ids.get(code), product_ids.get(sku), None
        if not code:
            problems.append(_problem(unit, n, "warehouse", "required"))
        elif wid is None:
            problems.append(_problem(unit, n, "warehouse", f"unknown warehouse {code!r}"))
        if not sku:
            problems.append(_problem(unit, n, "sku", "required"))
        elif pid is None:
            problems.append(_problem(unit, n, "sku", f"unknown SKU {sku!r}"))
        try:
            value = _count(raw.get(value_field), signed=signed)
            if signed and value == 0:
                raise ValueError("must not be 0")
        except ValueError as e:
            problems.append(_problem(unit, n, value_field, str(e)))
        if wid is not None and pid is not None:
            if (first := seen.setdefault((wid, pid), n)) != n:
                problems.append(_problem(unit, n, "sku", f"{sku} in {code} is also on {unit} {first}"))
            elif value is not None:
                out.append((n, wid, pid, value))
    return out, problems


def _apply(session: Session, changes: list[tuple[int, int, int, int]], *, kind: str, unit: str, actor: str,
           reference: str, problems: list[dict]) -> StockSet:
    """Lock the rows the batch touches (product, warehouse order), check them, write them all."""
    keys = sorted({(pid, wid) for _, wid, pid, _ in changes})
    current = {}
    if keys:
        q = (select(Stock).where(tuple_(Stock.product_id, Stock.warehouse_id).in_(keys))
             .order_by(Stock.product_id, Stock.warehouse_id).with_for_update())
        current = {(s.product_id, s.warehouse_id): s for s in session.scalars(q)}
    writes, movements = [], []
    for n, wid, pid, value in changes:
        row = current.get((pid, wid))
        on_hand, reserved = (row.on_hand, row.reserved) if row else (0, 0)
        after = value if kind == "set" else on_hand + value
        if after < 0:
            problems.append(_problem(unit, n, "delta", f"{on_hand} on hand: {value} would leave {after}"))
        elif after > MAX_UNITS:
            problems.append(_problem(unit, n, "delta", f"would leave {after:,}, more than {MAX_UNITS:,}"))
        elif after < reserved:
            problems.append(_problem(unit, n, "on_hand" if kind == "set" else "delta",
                                     f"orders hold {reserved} units here: on hand cannot go below that "
                                     f"(got {after}); ship or release them first"))
        elif after != on_hand or row is None:
            writes.append(dict(warehouse_id=wid, product_id=pid, on_hand=after, reserved=reserved))
            movements.append(dict(warehouse_id=wid, product_id=pid, delta=after - on_hand, on_hand=after, kind=kind,
                                  reference=reference, actor=actor))
    if problems:
        raise Invalid.listing(sorted(problems, key=lambda p: p.get(unit) or 0))
    if writes:
        stmt = insert(Stock).values(writes)
        session.execute(stmt.on_conflict_do_update(index_elements=["warehouse_id", "product_id"],
                                                   set_={"on_hand": stmt.excluded.on_hand, "updated_at": func.now()}))
        session.execute(insert(StockMovement), movements)
    filled = allocation.fill(session, sorted({w["product_id"] for w in writes}))
    return StockSet(len(changes), len(writes), filled)


def set_levels(session: Session, *, rows: Sequence[Mapping], actor: str, lines: Sequence[int] | None = None,
               reference: str = "erp") -> StockSet:
    """Units on hand per warehouse and SKU, as the ERP counts them (rows: warehouse, sku, on_hand).
    All rows or none; waiting orders are filled from what arrived."""
    unit = "index" if lines is None else "line"
    numbers = list(lines) if lines is not None else list(range(len(rows)))
    if len(rows) > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS:,} rows a batch", field="rows")
    changes, problems = _resolve(session, rows, numbers, unit, "on_hand", signed=False)
    return _apply(session, changes, kind="set", unit=unit, actor=actor, reference=reference, problems=problems)


def adjust(session: Session, *, warehouse: str, sku: str, delta, actor: str, reason: str = "") -> StockSet:
    """Units found or lost in a warehouse (a count, damage): on hand moves by `delta`."""
    reason = (reason or "").strip()
    if len(reason) > 128:
        raise Invalid("at most 128 characters", field="reason")
    changes, problems = _resolve(session, [{"warehouse": warehouse, "sku": sku, "delta": delta}], [0], "index",
                                 "delta", signed=True)
    try:
        return _apply(session, changes, kind="adjust", unit="index", actor=actor, reference=reason or "adjusted",
                      problems=problems)
    except Invalid as e:
        raise Invalid.listing([{"field": p.get("field"), "message": p["message"]} for p in e.errors]) from None


def import_file(session: Session, *, data: bytes, actor: str) -> StockSet:
    """A CSV (UTF-8) or .xlsx file with the columns warehouse, sku, on_hand; all rows or none."""
    table = read_upload_table(data)
    if not table.header_line:
        raise Invalid("empty file: expected a header row with warehouse, sku, on_hand", line=1)
    problems = [_problem("line", table.header_line, name or "(blank)", "unknown column; expected warehouse, sku, "
                                                                       "on_hand")
                for name in table.names if name not in SET_COLUMNS]
    problems += [_problem("line", table.header_line, name, "missing column")
                 for name in SET_COLUMNS if name not in table.names]
    problems += [_problem("line", line, None, f"{cells} values for {len(table.names)} columns")
                 for line, cells in table.misfits]
    if problems:
        raise Invalid.listing(problems)
    return set_levels(session, rows=table.rows, actor=actor, lines=table.lines, reference="import")
