"""Stock reports and sell-through coming in: by API (JSON), CSV or XLSX upload, and the console's form,
all through `record_stock` / `record_sell_through`. A batch is all or nothing: every bad row is
named (its index and field, or its line), and nothing is written when one is wrong.

A dealer reports its own stock (a row naming another dealer is refused); HQ and admins — the ERP —
report for any dealer by its code. A stock report replaces the current one of its dealer, sku and
day (the old row stays as history); a report made before the current one is refused as stale.
Sell-through from the POS/ERP feed replaces that day's feed figure; terminal scans of kind `sale`
are counted into it by `collect_scan_sales`, one unit per code."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Sequence

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid
from dealerflow.models import Dealer, Product, SellThrough, StockReport, User
from dealerflow.shared.accounts import business_date
from dealerflow.shared.uploads import BadValue, parse_time, read_upload_table

MAX_UPLOAD = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_QUANTITY = 10_000_000
REPORTERS = ("hq", "admin")  # staff who may report for any dealer (the ERP's account)
_INT = re.compile(r"^[+-]?\d{1,12}$")
STOCK_COLUMNS = ("dealer", "sku", "day", "on_hand", "in_transit", "reported_at")
SALES_COLUMNS = ("dealer", "sku", "day", "quantity")


@dataclass
class Recorded:
    rows: int
    recorded: int  # new or replacing figures
    unchanged: int  # the same figures sent again


@dataclass(frozen=True)
class _Row:
    place: dict  # {"field": prefix} or {"line": n}
    dealer_id: int
    product_id: int
    day: date
    on_hand: int
    in_transit: int
    reported_at: datetime | None


class _Problems:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, place: dict, field: str, message: str) -> None:
        if "line" in place:
            self.items.append({"line": place["line"], "field": field, "message": message})
        else:
            self.items.append({"field": f"{place['field']}.{field}", "message": message})

    def raise_any(self) -> None:
        if self.items:
            raise Invalid.listing(self.items[:1000])


def _quantity(raw, *, required: bool) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise BadValue("required")
        return None
    if isinstance(raw, bool):
        raise BadValue(f"expected a whole number, got {raw!r}")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INT.match(raw.strip()):
        value = int(raw.strip())
    else:
        raise BadValue(f"expected a whole number of units, got {raw!r}")
    if value < 0:
        raise BadValue(f"must not be negative, got {value}")
    if value > MAX_QUANTITY:
        raise BadValue(f"at most {MAX_QUANTITY:,} units")
    return value


def _day(raw, today: date) -> date:
    if isinstance(raw, date):
        value = raw
    else:
        if raw is None or not str(raw).strip():
            raise BadValue("required")
        try:
            value = date.fromisoformat(str(raw).strip())
        except ValueError:
            raise BadValue(f"expected a date like {today.isoformat()}, got {raw!r}") from None
    if value > today:
        raise BadValue(f"{value.isoformat()} is in the future (today is {today.isoformat()} in China)")
    if value < today - timedelta(days=3650):
        raise BadValue(f"{value.isoformat()} is more than ten years ago")
    return value


def _read(session: Session, *, user: User, rows: Sequence[dict], places: Sequence[dict], now: datetime,
          quantities: tuple[str, ...]) -> list[_Row]:
    """Rows checked and resolved; raises Invalid listing every problem."""
    if len(rows) > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS:,} rows in one batch: split it", field="rows")
    problems = _Problems()
    today = business_date(now)
    skus = {str(r.get("sku") or "").strip() for r in rows}
    products = dict(session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all())
    codes = {str(r.get("dealer") or "").strip() for r in rows} - {""}
    dealers = dict(session.execute(select(Dealer.code, Dealer.id).where(Dealer.code.in_(codes))).all()) if codes else {}
    staff = user.role in REPORTERS
    own = user.dealer_id
    out, seen = [], {}
    for row, place in zip(rows, places):
        ok = True
        code = str(row.get("dealer") or "").strip()
        dealer_id = own
        if code:
            dealer_id = dealers.get(code)
            if dealer_id is None:
                problems.add(place, "dealer", f"unknown dealer {code!r}")
                ok = False
            elif not staff and dealer_id != own:
                problems.add(place, "dealer", f"a dealer reports its own stock and sales, not {code!r}'s")
                ok = False
        elif staff:
            problems.add(place, "dealer", "required: the code of the dealer reported for")
            ok = False
        sku = str(row.get("sku") or "").strip()
        product_id = products.get(sku)
        if product_id is None:
            problems.add(place, "sku", f"unknown SKU {sku!r}" if sku else "required")
            ok = False
        try:
            day = _day(row.get("day"), today)
        except BadValue as e:
            problems.add(place, "day", str(e))
            ok = False
        values = {}
        for name in quantities:
            try:
                values[name] = _quantity(row.get(name), required=name != "in_transit")
            except BadValue as e:
                problems.add(place, name, str(e))
                ok = False
        at = row.get("reported_at")
        if isinstance(at, str) and at.strip():
            try:
                at = parse_time(at.strip())
                if at > now + timedelta(minutes=10):
                    problems.add(place, "reported_at", "is in the future")
                    ok = False
            except BadValue as e:
                problems.add(place, "reported_at", str(e))
                ok = False
        elif not isinstance(at, datetime):
            at = None
        if not ok:
            continue
        key = (dealer_id, product_id, day)
        if key in seen:
            problems.add(place, "sku", f"{sku} on {day.isoformat()} is already in this batch ({_where(seen[key])})")
            continue
        seen[key] = place
        out.append(_Row(place, dealer_id, product_id, day, values.get("on_hand", values.get("quantity", 0)),
                        values.get("in_transit") or 0, at))
    problems.raise_any()
    return out


# The batch's keys travel as three arrays (a 10,000-row IN list of tuples is too deep for the parser).
_CURRENT = text("""
    select r.id, r.dealer_id, r.product_id, r.day, r.on_hand, r.in_transit, r.reported_at
    from stock_reports r
    join unnest(cast(:dealers as int[]), cast(:products as int[]), cast(:days as date[])) as k(dealer_id, product_id, day)
      on r.dealer_id = k.dealer_id and r.product_id = k.product_id and r.day = k.day
    where r.current for update of r""")
_FEED = text("""
    select s.dealer_id, s.product_id, s.day, s.quantity
    from sell_through s
    join unnest(cast(:dealers as int[]), cast(:products as int[]), cast(:days as date[])) as k(dealer_id, product_id, day)
      on s.dealer_id = k.dealer_id and s.product_id = k.product_id and s.day = k.day
    where s.source = 'feed'""")


def _keys(rows: list[_Row]) -> dict:
    return {"dealers": [r.dealer_id for r in rows], "products": [r.product_id for r in rows],
            "days": [r.day for r in rows]}


def _where(place: dict) -> str:
    return f"line {place['line']}" if "line" in place else place["field"]


def record_stock(session: Session, *, user: User, rows: Sequence[dict], source: str, now: datetime,
                 places: Sequence[dict] | None = None) -> Recorded:
    """Stock reports, all or none. `rows`: dealer (code; staff only), sku, day, on_hand, in_transit,
    reported_at (default now)."""
    places = places or [{"field": f"rows[{i}]"} for i in range(len(rows))]
    checked = _read(session, user=user, rows=rows, places=places, now=now, quantities=("on_hand", "in_transit"))
    if not checked:
        return Recorded(len(rows), 0, 0)
    current = {(c.dealer_id, c.product_id, c.day): c for c in session.execute(_CURRENT, _keys(checked))}
    problems = _Problems()
    new, replaced, unchanged = [], [], 0
    for r in checked:
        at = r.reported_at or now
        old = current.get((r.dealer_id, r.product_id, r.day))
        if old is not None:
            if at < old.reported_at:
                problems.add(r.place, "reported_at", f"stale: a report made at {old.reported_at.isoformat()} is"
                                                     f" already recorded for {r.day.isoformat()}")
                continue
            if (old.on_hand, old.in_transit) == (r.on_hand, r.in_transit):
                unchanged += 1
                continue
            replaced.append(old.id)
        new.append(dict(dealer_id=r.dealer_id, product_id=r.product_id, day=r.day, on_hand=r.on_hand,
                        in_transit=r.in_transit, reported_at=at, source=source, reported_by=user.username))
    problems.raise_any()
    if replaced:
        session.execute(update(StockReport).where(StockReport.id.in_(replaced)).values(current=False))
        session.flush()
    if new:
        session.execute(insert(StockReport), new)
    return Recorded(len(rows), len(new), unchanged)


def record_sell_through(session: Session, *, user: User, rows: Sequence[dict], now: datetime,
                        places: Sequence[dict] | None = None) -> Recorded:
    """The POS/ERP feed, all or none: dealer (staff only), sku, day, quantity. A day sent again
    replaces that day's feed figure."""
    places = places or [{"field": f"rows[{i}]"} for i in range(len(rows))]
    checked = _read(session, user=user, rows=rows, places=places, now=now, quantities=("quantity",))
    if not checked:
        return Recorded(len(rows), 0, 0)
    before = {(d, p, day): q for d, p, day, q in session.execute(_FEED, _keys(checked))}
    values = [dict(dealer_id=r.dealer_id, product_id=r.product_id, day=r.day, source="feed", quantity=r.on_hand,
                   reported_by=user.username) for r in checked
              if before.get((r.dealer_id, r.product_id, r.day)) != r.on_hand]
    if values:
        stmt = insert(SellThrough)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["dealer_id", "product_id", "day", "source"],
            set_={"quantity": stmt.excluded.quantity, "reported_by": stmt.excluded.reported_by,
                  "received_at": text("now()")}), values)
    return Recorded(len(rows), len(values), len(checked) - len(values))


# --- files -------------------------------------------------------------------------------------------

def read_file(data: bytes, *, columns: tuple[str, ...], required: tuple[str, ...]) -> tuple[list[dict], list[dict]]:
    """A CSV (UTF-8) or XLSX upload as rows and their places (lines); a missing column or a row with
    too many cells is refused with its line."""
    table = read_upload_table(data)
    if not table.names:
        raise Invalid("the file is empty: expected a header row with " + ", ".join(required), line=1)
    missing = [c for c in required if c not in table.names]
    unknown = [c for c in table.names if c and c not in columns]
    errors = [{"line": table.header_line, "field": c, "message": "missing column"} for c in missing]
    errors += [{"line": table.header_line, "field": c, "message": f"unknown column (columns: {', '.join(columns)})"}
               for c in unknown]
    errors += [{"line": line, "message": f"{cells} cells, but the header has {len(table.names)}"}
               for line, cells in table.misfits]
    if errors:
        raise Invalid.listing(errors[:1000])
    return table.rows, [{"line": n} for n in table.lines]


# --- scans ---------------------------------------------------------------------------------------------

# A code sold counts once, on the day of its first sale scan; a day with a feed figure keeps the feed's
# (the health query reads the feed first), so a unit is never counted twice.
_SCAN_SALES = text("""
    insert into sell_through (dealer_id, product_id, day, source, quantity, reported_by)
    select pc.dealer_id, pc.product_id, (s.first at time zone 'Asia/Shanghai')::date, 'scan', count(*), 'scans'
    from (select code, min(scanned_at) as first from scans where kind = 'sale' group by code) s
    join product_codes pc on pc.code = s.code
    where pc.dealer_id is not null and s.first >= :since
    group by 1, 2, 3
    on conflict (dealer_id, product_id, day, source) do update set quantity = excluded.quantity
    where sell_through.quantity <> excluded.quantity""")


def collect_scan_sales(session: Session, *, since: datetime) -> int:
    """Terminal sale scans since `since` counted into each dealer's daily sell-through (source scan)."""
    return session.execute(_SCAN_SALES, {"since": since}).rowcount
