"""Order history from the ERP: orders with their lines, dates, shipments and deliveries, returns and
payments as they happened, so settlement, tiering, credit and the reports see the real past.

One table of rows (a CSV or XLSX file, or the JSON API's orders flattened into the same rows), read
once and loaded with COPY into a staging table, then checked set-based in SQL: any problem (named by
its line, or its JSON place, and column) refuses the whole import with nothing written. Otherwise a
few `INSERT … SELECT` statements write orders, lines, status events, returns, payments and the
account's entries; the daily sales rollup follows through its statement triggers.

Invariants:
- Imported rows are marked `imported`; an order keeps its ERP number (`source_ref`, unique), a return
  or payment its reference (unique): a second import of the same numbers changes nothing, and says
  how many were already there.
- Orders come in with the status the ERP gives (approved, shipped, delivered, completed, cancelled,
  rejected) and their own dates. No workflow is started: a closed order needs none, and an open one
  (approved or shipped) goes on through the ordinary fulfilment records (ship, deliver, payments),
  which are rows, not workflows. Orders still waiting for a credit decision are placed through the API.
- A dry run checks everything and counts what would be new, and writes nothing."""
from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from operator import itemgetter
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from dealerflow.models import HistoryImport
from dealerflow.orders.fulfilment import BatchError, Problem
from dealerflow.shared.uploads import XLSX_MAGIC, decode_text, sheet_rows

log = logging.getLogger(__name__)
MAX_UPLOAD = 200 * 1024 * 1024  # about 1.5 million lines
MAX_PROBLEMS = 1000  # a refused import lists the first ones and counts the rest
RECORDS = ("line", "return", "payment")
STATUSES = ("approved", "shipped", "delivered", "completed", "cancelled", "rejected")
# Every column a row may have; which ones a row needs depends on its record (blank: line).
FIELDS = ("record", "order_ref", "dealer", "status", "placed_at", "shipped_at", "delivered_at", "sku",
          "quantity", "unit_price", "reference", "returned_at", "reason", "amount", "paid_at", "method")
NEEDS = {
    "line": ("order_ref", "dealer", "status", "placed_at", "sku", "quantity"),
    "return": ("order_ref", "sku", "quantity", "reference", "returned_at"),
    "payment": ("reference", "amount", "paid_at"),
}
ORDER_FIELDS = ("order_ref", "dealer", "status", "placed_at", "shipped_at", "delivered_at")
CHINA_DAY = "((({c}) at time zone 'UTC') + interval '8 hours')::date"


@dataclass
class Imported:
    """What an import found: rows read; orders, lines, returns and payments new (written, or that a dry
    run would write) and already there (an earlier import or record with the same number)."""
    rows: int
    dry_run: bool
    orders: int = 0
    lines: int = 0
    returns: int = 0
    payments: int = 0
    already: dict = field(default_factory=lambda: {"orders": 0, "returns": 0, "payments": 0})
    timings: dict = field(default_factory=dict)  # seconds: staged, checked, written

    def counts(self) -> dict:
        return {"orders": self.orders, "lines": self.lines, "returns": self.returns, "payments": self.payments,
                "already": self.already}


class HistoryError(BatchError):
    """Every problem found (the first MAX_PROBLEMS of `total`); nothing of the import was written.
    `name` turns a row number and column into the place a JSON caller sent it (`orders[2].lines[0].sku`)."""

    def __init__(self, problems: list[Problem], *, total: int | None = None,
                 name: Callable[[int, str | None], str] | None = None):
        self.total = total if total is not None else len(problems)
        self.name = name
        super().__init__(problems, unit="index" if name else "line")

    def describe(self, p: Problem) -> str:
        if p.row is None:
            return ": ".join(x for x in (p.field, p.message) if x)
        if self.name is None:
            return super().describe(p)
        return f"{self.name(p.row, p.field)}: {p.message}"

    def detail(self, limit: int | None = None) -> list[dict]:
        if self.name is None:
            return super().detail(limit)
        return [{"field": self.name(p.row, p.field) if p.row is not None else p.field, "message": p.message}
                for p in self.problems[:limit]]


# --- reading a file ---------------------------------------------------------------------------------

def file_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """The rows of an upload as (line, cells in FIELDS order): an XLSX workbook's first sheet, or CSV
    text (UTF-8 with or without BOM, or GB18030). The header names the columns, in any order; a
    column it does not name is blank. Raises NotText or HistoryError (a bad header or row shape)."""
    if data.startswith(XLSX_MAGIC):
        rows = sheet_rows(data)
    else:
        rows = _csv_rows(decode_text(data, save_as="\"CSV UTF-8\" or XLSX"))
    header = next(rows, None)
    if header is None:
        raise HistoryError([Problem(1, None, f"empty file: expected a header row with {', '.join(FIELDS)}")])
    header_line, names = header[0], [n.strip().lower() for n in header[1]]
    while names and not names[-1]:
        names.pop()  # a spreadsheet's trailing empty header cells
    problems = []
    for name in names:
        if name not in FIELDS:
            hint = "columns are separated by commas" if (";" in name or "\t" in name) else f"expected {', '.join(FIELDS)}"
            problems.append(Problem(header_line, name or "(blank)", f"unknown column; {hint}"))
        elif names.count(name) > 1 and name not in {p.field for p in problems}:
            problems.append(Problem(header_line, name, "column appears more than once"))
    if "order_ref" not in names and "reference" not in names:
        problems.append(Problem(header_line, "order_ref", "missing column"))
    if problems:
        raise HistoryError(problems)
    width = len(names)
    # Each field's cell (a column the header does not name reads the blank one after the row's end).
    pick = itemgetter(*(names.index(f) if f in names else width for f in FIELDS))
    blank = [""] * (width + 1)

    def shaped() -> Iterator[tuple[int, list[str]]]:
        misfits = []
        for line, cells in rows:
            if len(cells) != width:
                if len(cells) > width and any(c.strip() for c in cells[width:]):
                    misfits.append(Problem(line, None, f"{len(cells)} values for {width} columns"))
                    continue
                cells = (cells + blank)[:width]
            yield line, [c.strip() for c in pick(cells + [""])]
        if misfits:
            raise HistoryError(misfits[:MAX_PROBLEMS], total=len(misfits))
    return shaped()


def _csv_rows(content: str) -> Iterator[tuple[int, list[str]]]:
    """(the line a row starts on, its cells), blank rows skipped."""
    reader = csv.reader(io.StringIO(content, newline=""))
    start = 1
    for cells in reader:
        if any(c.strip() for c in cells):
            yield start, cells
        start = reader.line_num + 1


def json_rows(orders: list[dict], returns: list[dict], payments: list[dict]):
    """The JSON API's body as the same rows as a file's, and the function naming a row's column the
    way the caller sent it: `orders[3].dealer`, `orders[3].lines[1].quantity`, `payments[0].amount`."""
    places: list[tuple[str, str | None]] = []  # per row: (its order's or record's place, its line's place)
    rows: list[tuple[int, list[str]]] = []
    unknown = [f"{where}.{key}" for where, item, known in (
        *((f"orders[{i}]", o, (*ORDER_FIELDS, "lines")) for i, o in enumerate(orders)),
        *((f"orders[{i}].lines[{j}]", line, ("sku", "quantity", "unit_price"))
          for i, o in enumerate(orders) for j, line in enumerate(o.get("lines") or [])),
        *((f"returns[{i}]", r, NEEDS["return"] + ("reason",)) for i, r in enumerate(returns)),
        *((f"payments[{i}]", p, NEEDS["payment"] + ("order_ref", "dealer", "method")) for i, p in enumerate(payments)))
        for key in item if key not in known]
    if unknown:
        raise HistoryError([Problem(None, place, "unknown field") for place in unknown[:MAX_PROBLEMS]],
                           total=len(unknown), name=lambda row, column: column or "")

    def cell(value) -> str:
        return "" if value is None else str(value).strip()

    for i, order in enumerate(orders):
        for j, line in enumerate(order.get("lines") or [{}]):
            values = {**{k: order.get(k) for k in ORDER_FIELDS}, **line, "record": "line"}
            rows.append((len(rows) + 1, [cell(values.get(f)) for f in FIELDS]))
            places.append((f"orders[{i}]", f"orders[{i}].lines[{j}]" if order.get("lines") else f"orders[{i}].lines"))
    for kind, items in (("return", returns), ("payment", payments)):
        for i, item in enumerate(items):
            values = {**item, "record": kind}
            rows.append((len(rows) + 1, [cell(values.get(f)) for f in FIELDS]))
            places.append((f"{kind}s[{i}]", None))

    def name(row: int, column: str | None) -> str:
        record, line = places[row - 1]
        if line is None or column in ORDER_FIELDS:
            return f"{record}.{column}" if column else record
        if line.endswith(".lines"):
            return line
        return f"{line}.{column}" if column else line
    return rows, name


# --- staging ----------------------------------------------------------------------------------------

class _CopySource:
    """A file-like object over rows, read by COPY in chunks: a million rows are never one string."""

    def __init__(self, rows: Iterable[tuple[int, list[str]]]):
        self.rows = iter(rows)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.pending = ""
        self.count = 0
        self.error: Exception | None = None  # what reading the rows raised (psycopg2 would bury it)

    def read(self, size: int = -1) -> str:
        while len(self.pending) < max(size, 1 << 16):
            self.buffer.seek(0)
            self.buffer.truncate()
            n = 0
            try:
                for line, cells in self.rows:
                    self.writer.writerow((line, *cells))
                    n += 1
                    if n == 2000:
                        break
            except Exception as e:  # noqa: BLE001 — raised again by _stage once COPY has ended
                self.error, n = e, 0
            if not n:
                break
            self.count += n
            self.pending += self.buffer.getvalue()
        if size < 0 or size >= len(self.pending):
            out, self.pending = self.pending, ""
        else:
            out, self.pending = self.pending[:size], self.pending[size:]
        return out

    readline = read


def _stage(session: Session, rows: Iterable[tuple[int, list[str]]]) -> int:
    """COPY the rows into the staging table `history_raw` (text cells, blank is null); their count."""
    session.execute(text("drop table if exists history_raw, history_rows, history_orders, history_lines, "
                         "history_known, history_new"))
    columns = ", ".join(f"{f} text" for f in FIELDS)
    session.execute(text(f"create temporary table history_raw (line integer, {columns}) on commit drop"))
    source = _CopySource(rows)
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"copy history_raw (line, {', '.join(FIELDS)}) from stdin with (format csv)", source)
    finally:
        cursor.close()
    if source.error is not None:
        raise source.error
    return source.count


# --- checks, in SQL ---------------------------------------------------------------------------------

_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIME = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"
_NO_OFFSET = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
_MONEY = r"^\d+(\.\d{1,2})?$"


def _time(c: str) -> str:
    """A cell as a time, or null when it is not one: a date is the start of that day in China."""
    return (f"case when {c} ~ '{_DATE}' and pg_input_is_valid({c}, 'date') then ({c} || ' 00:00:00+08')::timestamptz "
            f"when {c} ~ '{_TIME}' and pg_input_is_valid({c}, 'timestamptz') then {c}::timestamptz end")


def _time_problem(c: str) -> str:
    return f"""case when {c} is null then null
        when {c} ~ '{_DATE}' and not pg_input_is_valid({c}, 'date') then format('no such date %L', {c})
        when {c} ~ '{_NO_OFFSET}' then format('%L has no UTC offset: add one (+08:00 for China) or give a date', {c})
        when not ({c} ~ '{_DATE}' or ({c} ~ '{_TIME}' and pg_input_is_valid({c}, 'timestamptz')))
          then format('expected an ISO 8601 time with offset (2026-03-05T14:30:00+08:00) or a date (2026-03-05), got %L', {c})
        when {_time(c)} > now() + interval '10 minutes' then format('%L is in the future', {c}) end"""


def _money_problem(c: str, *, zero: bool) -> str:
    least = "must not be negative" if zero else "must be greater than 0"
    return f"""case when {c} is null then null
        when {c} ~ '^-\\d+(\\.\\d+)?$' then format('{least}, got %L', {c})
        when {c} ~ '^\\d+\\.\\d{{3,}}$' then format('expected an amount with at most 2 decimals, got %L', {c})
        when {c} !~ '{_MONEY}' then format('expected an amount like 1250.00, got %L', {c})
        when length(ltrim(split_part({c}, '.', 1), '0')) > 12
          then format('too large: at most 12 digits before the decimal point, got %L', {c})
        {'' if zero else f"when {c}::numeric = 0 then format('must be greater than 0, got %L', {c})"} end"""


def _quantity_problem(c: str) -> str:
    return f"""case when {c} is null then null
        when {c} ~ '^-\\d+$' then format('must be greater than 0, got %L', {c})
        when {c} !~ '^\\d+$' then format('expected a whole number of units, got %L', {c})
        when length(ltrim({c}, '0')) > 7 or {c}::int not between 1 and 1000000
          then format('must be between 1 and 1000000, got %L', {c}) end"""


def _longer(c: str, limit: int) -> str:
    return f"when length({c}) > {limit} then format('at most {limit} characters, got %s', length({c}))"


def _required(c: str, records: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{r}'" for r in records)
    return f"when {c} is null and rec in ({listed}) then 'required'"


_CELLS = {
    "record": f"case when rec not in ({', '.join(repr(r) for r in RECORDS)}) "
              f"then format('expected line, return or payment, got %L', record) end",
    "order_ref": f"case {_required('order_ref', ('line', 'return'))} {_longer('order_ref', 64)} end",
    "dealer": f"case {_required('dealer', ('line',))} "
              f"when dealer is null and rec = 'payment' and order_ref is null then 'required when no order_ref is given' "
              f"{_longer('dealer', 32)} end",
    "status": f"case {_required('status', ('line',))} "
              f"when rec = 'line' and lower(status) in ('submitted', 'pending_review') "
              f"then format('%L: an order waiting for its credit decision is placed through the API, not imported', status) "
              f"when rec = 'line' and lower(status) not in ({', '.join(repr(s) for s in STATUSES)}) "
              f"then format('expected one of {', '.join(STATUSES)}, got %L', status) end",
    "placed_at": f"case {_required('placed_at', ('line',))} else {_time_problem('placed_at')} end",
    "shipped_at": _time_problem("shipped_at"),
    "delivered_at": _time_problem("delivered_at"),
    "sku": f"case {_required('sku', ('line', 'return'))} {_longer('sku', 64)} end",
    "quantity": f"case {_required('quantity', ('line', 'return'))} else {_quantity_problem('quantity')} end",
    "unit_price": _money_problem("unit_price", zero=True),
    "reference": f"case {_required('reference', ('return', 'payment'))} {_longer('reference', 64)} end",
    "returned_at": f"case {_required('returned_at', ('return',))} else {_time_problem('returned_at')} end",
    "reason": f"case {_longer('reason', 2000)} end",
    "amount": f"case {_required('amount', ('payment',))} else {_money_problem('amount', zero=False)} end",
    "paid_at": f"case {_required('paid_at', ('payment',))} else {_time_problem('paid_at')} end",
    "method": f"case {_longer('method', 32)} end",
}

_CELL_CHECKS = f"""
    select line, field, message, count(*) over () as total
    from (select *, coalesce(lower(record), 'line') as rec from history_raw
          where line in (select line from history_rows where bad)) r
    cross join lateral (values {', '.join(f"('{f}', {check})" for f, check in _CELLS.items())}) c(field, message)
    where c.message is not null
    order by line, array_position(array[{', '.join(repr(f) for f in FIELDS)}], field)
    limit {MAX_PROBLEMS}"""

_TIMES = ("placed_at", "shipped_at", "delivered_at", "returned_at", "paid_at")
_NUMBERS = {
    "quantity": "case when {c} ~ '^0*[0-9]{{1,7}}$' and {c}::int between 1 and 1000000 then {c}::int end",
    "unit_price": f"case when {{c}} ~ '^0*[0-9]{{{{1,12}}}}(\\.[0-9]{{{{1,2}}}})?$' then {{c}}::numeric(14, 2) end",
    "amount": f"case when {{c}} ~ '^0*[0-9]{{{{1,12}}}}(\\.[0-9]{{{{1,2}}}})?$' and {{c}}::numeric > 0 "
              f"then {{c}}::numeric(14, 2) end",
}
_LIMITS = {"order_ref": 64, "dealer": 32, "sku": 64, "reference": 64, "reason": 2000, "method": 32}


def _needed(rec: str, c: str) -> str:
    return f"(rec = '{rec}' and {c} is null)"


# A row is bad when a cell does not read or a needed one is missing: a cheap test on every row; the
# messages (_CELL_CHECKS) are worked out for the bad rows only.
_BAD = " or ".join([
    f"rec not in ({', '.join(repr(r) for r in RECORDS)})",
    *(_needed(rec, c) for rec, cells in NEEDS.items() for c in cells),
    "(rec = 'payment' and dealer is null and order_ref is null)",
    f"(rec = 'line' and status not in ({', '.join(repr(x) for x in STATUSES)}))",
    *(f"(raw_{c} is not null and {c} is null)" for c in (*_TIMES, *_NUMBERS)),
    *(f"{c} > now() + interval '10 minutes'" for c in _TIMES),
    *(f"length({c}) > {n}" for c, n in _LIMITS.items()),
])

# The rows typed (a cell that does not read is null, and its row bad), the orders (their first line
# holds the order's columns), the lines priced (the product's price when the ERP gives none), and the
# orders returns and payments may name: those of the file and those imported before.
_ROWS = f"""
    create temporary table history_rows on commit drop as
    select line, rec, order_ref, dealer, status, {', '.join(_TIMES)}, quantity, unit_price, reference,
           coalesce(reason, '') as reason, amount, coalesce(method, 'transfer') as method, sku, {_BAD} as bad
    from (select line, coalesce(lower(record), 'line') as rec, order_ref, dealer, lower(status) as status, sku,
                 reference, reason, method,
                 {', '.join(f"{c} as raw_{c}, {_time(c)} as {c}" for c in _TIMES)},
                 {', '.join(f"{c} as raw_{c}, {expr.format(c=c)} as {c}" for c, expr in _NUMBERS.items())}
          from history_raw offset 0) typed"""

_TYPED = [
    """create temporary table history_orders on commit drop as
        select distinct on (r.order_ref) r.order_ref, r.line as first_line, r.dealer, d.id as dealer_id,
               r.status, r.placed_at, r.shipped_at, r.delivered_at,
               md5('dealerflow order ' || r.order_ref)::uuid as id
        from history_rows r left join dealers d on d.code = r.dealer
        where r.rec = 'line' order by r.order_ref, r.line""",
    """create temporary table history_lines on commit drop as
        select r.line, r.order_ref, row_number() over (partition by r.order_ref order by r.line)::int as line_no,
               p.id as product_id, r.sku, r.quantity, coalesce(r.unit_price, p.unit_price) as unit_price,
               round(r.quantity * coalesce(r.unit_price, p.unit_price), 2) as amount
        from history_rows r left join products p on p.sku = r.sku where r.rec = 'line'""",
    """create temporary table history_known on commit drop as
        select o.order_ref, o.dealer_id, o.dealer, o.status, o.delivered_at, false as stored from history_orders o
        union all
        select o.source_ref, o.dealer_id, d.code, o.status, o.delivered_at, true
        from orders o join dealers d on d.id = o.dealer_id
        where o.source_ref in (select order_ref from history_rows where rec <> 'line' and order_ref is not null)
          and o.source_ref not in (select order_ref from history_orders)""",
    "analyze history_orders", "analyze history_lines", "analyze history_known",
]

_ISO = "to_char({c} at time zone 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"')"

def _differs(c: str) -> str:
    shown = _ISO.format(c=f"o.{c}") if c.endswith("_at") else f"o.{c}"
    return (f"('{c}', case when r.{c} is distinct from o.{c} then format('order %s has {c} %s on line %s: every "
            f"line of an order repeats it', r.order_ref, coalesce({shown}, 'none'), o.first_line) end)")


_SAME_ON_EACH_LINE = f"""
      select r.line, c.field, c.message
      from history_rows r join history_orders o using (order_ref)
      cross join lateral (values {', '.join(_differs(c) for c in ORDER_FIELDS[1:])}) c(field, message)
      where r.rec = 'line' and r.line <> o.first_line and c.message is not null
        and ({' or '.join(f"r.{c} is distinct from o.{c}" for c in ORDER_FIELDS[1:])})"""

_ROW_CHECKS = f"""
    with problems (line, field, message) as (
      -- the columns of an order are the same on each of its lines (one pass over the lines)
      {_SAME_ON_EACH_LINE}
      union all
      select first_line, 'dealer', format('unknown dealer %L', dealer) from history_orders where dealer_id is null
      union all
      select line, 'sku', format('unknown SKU %L', sku) from history_lines where product_id is null
      union all
      select first_line, 'delivered_at', format('required: the order is %s', status) from history_orders
      where status in ('delivered', 'completed') and delivered_at is null
      union all
      select first_line, 'delivered_at', format('an order %s has not been delivered: leave it blank or give the status delivered', status)
      from history_orders where status not in ('delivered', 'completed') and delivered_at is not null
      union all
      select first_line, 'shipped_at', 'required: the order is shipped' from history_orders
      where status = 'shipped' and shipped_at is null
      union all
      select first_line, 'shipped_at', format('an order %s has not been shipped: leave it blank', status)
      from history_orders where status in ('approved', 'rejected') and shipped_at is not null
      union all
      select first_line, 'shipped_at', format('%s is before the order was placed (%s)',
                                              {_ISO.format(c='shipped_at')}, {_ISO.format(c='placed_at')})
      from history_orders where shipped_at < placed_at
      union all
      select first_line, 'delivered_at', format('%s is before the order was %s (%s)', {_ISO.format(c='delivered_at')},
             case when shipped_at is null then 'placed' else 'shipped' end,
             {_ISO.format(c='coalesce(shipped_at, placed_at)')})
      from history_orders where delivered_at < coalesce(shipped_at, placed_at)
      union all
      select min(l.line), 'quantity', format('order %s comes to %s: at most 999999999999.99 an order', l.order_ref,
                                             sum(l.quantity * l.unit_price))
      from history_lines l group by l.order_ref having sum(l.quantity * l.unit_price) >= 1e12
      union all
      -- a return's or payment's reference once in the file
      select line, 'reference', format('duplicate reference %L (also on line %s)', reference, first)
      from (select line, reference, first_value(line) over w as first, row_number() over w as n
            from history_rows where rec in ('return', 'payment') and reference is not null
            window w as (partition by rec, reference order by line)) x where n > 1
      union all
      -- returns: of delivered goods of a known order, not more than delivered and not yet returned
      select r.line, 'order_ref', format('unknown order %L', r.order_ref)
      from history_rows r left join history_known k using (order_ref)
      where r.rec in ('return', 'payment') and r.order_ref is not null and k.order_ref is null
      union all
      select r.line, 'order_ref', format('order %s is %s: only delivered goods can be returned', r.order_ref, k.status)
      from history_rows r join history_known k using (order_ref)
      where r.rec = 'return' and k.status not in ('delivered', 'completed')
      union all
      select r.line, 'returned_at', format('%s is before the order was delivered (%s)', {_ISO.format(c='r.returned_at')},
                                           {_ISO.format(c='k.delivered_at')})
      from history_rows r join history_known k using (order_ref)
      where r.rec = 'return' and r.returned_at < ({CHINA_DAY.format(c='k.delivered_at')} || ' 00:00+08')::timestamptz
      union all
      select line, field, message from (
        select r.line, 'sku' as field, r.order_ref, r.sku, r.quantity, a.units,
               sum(r.quantity) over (partition by r.order_ref, r.sku order by r.line) as cumulative
        from history_rows r join history_known k using (order_ref)
        left join (select l.order_ref, l.sku, sum(l.quantity) as units from history_lines l group by 1, 2
                   union all
                   select k.order_ref, l.sku, sum(l.quantity) - coalesce((
                       select sum(x.quantity) from order_returns x
                       where x.order_id = o.id and x.sku = l.sku
                         and x.reference not in (select reference from history_rows
                                                 where rec = 'return' and reference is not null)), 0)
                   from history_known k join orders o on o.source_ref = k.order_ref
                   join order_lines l on l.order_id = o.id where k.stored group by k.order_ref, o.id, l.sku
                  ) a on a.order_ref = r.order_ref and a.sku = r.sku
        where r.rec = 'return' and k.status in ('delivered', 'completed')) x
      cross join lateral (values (case
        when units is null then format('order %s has no line of SKU %L', order_ref, sku)
        when cumulative > units then format('%s is more than the %s unit(s) of %s delivered and not yet returned on order %s',
                                            quantity, greatest(units - cumulative + quantity, 0), sku, order_ref) end))
        m(message)
      where m.message is not null
      union all
      -- payments: a known dealer, and the order's own
      select r.line, 'dealer', format('unknown dealer %L', r.dealer)
      from history_rows r left join dealers d on d.code = r.dealer
      where r.rec = 'payment' and r.dealer is not null and d.id is null
      union all
      select r.line, 'dealer', format('order %s is dealer %s''s, not %s''s', r.order_ref, k.dealer, r.dealer)
      from history_rows r join history_known k using (order_ref) join dealers d on d.code = r.dealer
      where r.rec = 'payment' and k.dealer_id <> d.id
      union all
      select r.line, 'order_ref', format('order %s is %s: it takes no payment', r.order_ref, k.status)
      from history_rows r join history_known k using (order_ref)
      where r.rec = 'payment' and k.status in ('cancelled', 'rejected')
    )
    select line, field, message, count(*) over () as total from problems
    order by line, array_position(array[{', '.join(repr(f) for f in FIELDS)}], field)
    limit {MAX_PROBLEMS}"""


def _refuse_if_any(session: Session, sql: str, name) -> None:
    found = session.execute(text(sql)).all()
    if found:
        raise HistoryError([Problem(line, column, message) for line, column, message, _ in found],
                           total=found[0].total, name=name)


# --- writing ----------------------------------------------------------------------------------------

# The status moves of an imported order, at their real times. A completed order was settled by its
# last payment in the file (or on delivery); a cancelled one when it was shipped, or placed.
_EVENTS = """
    insert into order_events (order_id, at, status, actor, note)
    select n.id, e.at, e.status, :actor, e.note
    from history_new n join history_orders o on o.order_ref = n.order_ref
    left join (select order_ref, max(paid_at) as paid_at from history_rows where rec = 'payment' group by 1) p
      on p.order_ref = o.order_ref
    cross join lateral (values
      (o.placed_at, case when o.status = 'rejected' then 'rejected' else 'approved' end,
       'imported from the ERP: order ' || o.order_ref),
      (coalesce(o.shipped_at, o.delivered_at), 'shipped', 'shipped'),
      (o.delivered_at, 'delivered', 'delivered; ' || n.amount || ' booked to the dealer''s account'),
      (case when o.status = 'completed' then greatest(o.delivered_at, p.paid_at) end, 'completed', 'paid in full'),
      (case when o.status = 'cancelled' then coalesce(o.shipped_at, o.placed_at) end, 'cancelled', 'cancelled')
    ) e(at, status, note)
    where e.at is not null"""


def _write(session: Session, actor: str) -> dict:
    """Orders new by their ERP number, then their lines, events and deliveries; returns and payments
    new by their reference, each with its ledger entry. Returns the new counts."""
    session.execute(text("create temporary table history_new (id uuid, order_ref text, amount numeric) on commit drop"))
    session.execute(text("""
        with new as (
          insert into orders (id, dealer_id, status, amount, workflow_id, created_at, updated_at, shipped_at,
                              delivered_at, imported, source_ref)
          select o.id, o.dealer_id, o.status, a.amount, '', o.placed_at, now(), coalesce(o.shipped_at, o.delivered_at),
                 o.delivered_at, true, o.order_ref
          from history_orders o join (select order_ref, sum(amount) as amount from history_lines group by 1) a
            using (order_ref)
          on conflict (source_ref) do nothing
          returning id, source_ref, amount)
        insert into history_new select * from new"""))
    session.execute(text("analyze history_new"))
    lines = session.execute(text("""
        insert into order_lines (order_id, line_no, product_id, sku, quantity, unit_price, amount)
        select n.id, l.line_no, l.product_id, l.sku, l.quantity, l.unit_price, l.amount
        from history_lines l join history_new n on n.order_ref = l.order_ref""")).rowcount
    session.execute(text(_EVENTS), {"actor": actor})
    session.execute(text(f"""
        insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
        select o.dealer_id, 'delivery', n.amount, {CHINA_DAY.format(c='o.delivered_at')}, 'order', n.id::text,
               'order delivered (ERP order ' || o.order_ref || ')'
        from history_new n join history_orders o on o.order_ref = n.order_ref where o.delivered_at is not null
        on conflict on constraint account_entry_once do nothing"""))
    returns = session.execute(text(f"""
        with new as (
          insert into order_returns (reference, order_id, dealer_id, product_id, sku, quantity, amount, returned_at,
                                     reason, recorded_by, imported)
          select r.reference, o.id, o.dealer_id, u.product_id, r.sku, r.quantity, u.unit_price * r.quantity,
                 r.returned_at, r.reason, :actor, true
          from history_rows r join orders o on o.source_ref = r.order_ref
          join (select order_id, sku, min(product_id) as product_id, min(unit_price) as unit_price
                from order_lines where order_id in (select o.id from orders o join history_rows r
                                                    on o.source_ref = r.order_ref where r.rec = 'return')
                group by 1, 2) u on u.order_id = o.id and u.sku = r.sku
          where r.rec = 'return' order by r.line
          on conflict (reference) do nothing
          returning reference, dealer_id, amount, returned_at, quantity, sku)
        insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
        select dealer_id, 'return', -amount, {CHINA_DAY.format(c='returned_at')}, 'return', reference,
               'return of ' || quantity || ' × ' || sku
        from new on conflict on constraint account_entry_once do nothing"""), {"actor": actor}).rowcount
    payments = session.execute(text(f"""
        with new as (
          insert into payments (reference, dealer_id, order_id, amount, paid_at, method, recorded_by, imported)
          select r.reference, coalesce(o.dealer_id, d.id), o.id, r.amount, r.paid_at, r.method, :actor, true
          from history_rows r left join orders o on o.source_ref = r.order_ref left join dealers d on d.code = r.dealer
          where r.rec = 'payment' order by r.line
          on conflict (reference) do nothing
          returning reference, dealer_id, amount, paid_at)
        insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
        select dealer_id, 'payment', -amount, {CHINA_DAY.format(c='paid_at')}, 'payment', reference,
               'payment ' || reference
        from new on conflict on constraint account_entry_once do nothing"""), {"actor": actor}).rowcount
    orders = session.scalar(text("select count(*) from history_new"))
    return {"orders": orders, "lines": lines, "returns": returns, "payments": payments}


_WOULD_BE_NEW = """
    select (select count(*) from history_orders o where not exists (select from orders x where x.source_ref = o.order_ref)),
           (select count(*) from history_lines l where not exists (select from orders x where x.source_ref = l.order_ref)),
           (select count(*) from history_rows r where rec = 'return'
              and not exists (select from order_returns x where x.reference = r.reference)),
           (select count(*) from history_rows r where rec = 'payment'
              and not exists (select from payments x where x.reference = r.reference))"""


def import_rows(session: Session, *, rows: Iterable[tuple[int, list[str]]], actor: str, dry_run: bool = False,
                name: Callable[[int, str | None], str] | None = None) -> Imported:
    """Check and (unless a dry run) write the rows (line, cells in FIELDS order) in the caller's
    transaction. Raises HistoryError listing the problems; then nothing was written. The seconds
    each step took are in the result's `timings` (read and staged, checked, written)."""
    started = time.perf_counter()
    count = _stage(session, rows)
    if not count:
        raise HistoryError([Problem(None, None, "no rows: expected order lines, returns or payments after the header")],
                           name=name)
    staged = time.perf_counter()
    session.execute(text(_ROWS))
    bad = session.scalar(text("select count(*) from history_rows where bad"))
    if bad:
        _refuse_if_any(session, _CELL_CHECKS, name)
        raise HistoryError([Problem(None, None, f"{bad} row(s) cannot be read")], name=name)  # not expected
    session.execute(text("analyze history_rows"))
    for statement in _TYPED:
        session.execute(text(statement))
    _refuse_if_any(session, _ROW_CHECKS, name)
    totals = session.execute(text("""
        select (select count(*) from history_orders), (select count(*) from history_lines),
               (select count(*) from history_rows where rec = 'return'),
               (select count(*) from history_rows where rec = 'payment')""")).one()
    checked = time.perf_counter()
    if dry_run:
        new = dict(zip(("orders", "lines", "returns", "payments"), session.execute(text(_WOULD_BE_NEW)).one()))
    else:
        new = _write(session, actor)
    result = Imported(rows=count, dry_run=dry_run, **new)
    result.already = {"orders": totals[0] - new["orders"], "returns": totals[2] - new["returns"],
                      "payments": totals[3] - new["payments"]}
    result.timings = {"staged": round(staged - started, 3), "checked": round(checked - staged, 3),
                      "written": round(time.perf_counter() - checked, 3)}
    log.info("order history: %s rows by %s%s: %s; seconds %s", count, actor, " (dry run)" if dry_run else "",
             result.counts(), result.timings)
    return result


def import_file(session: Session, *, data: bytes, actor: str, dry_run: bool = False) -> Imported:
    """A CSV or XLSX file of order history, all or nothing. Raises NotText or HistoryError (lines named)."""
    return import_rows(session, rows=file_rows(data), actor=actor, dry_run=dry_run)


# --- the record of each import ----------------------------------------------------------------------

def begin(session: Session, *, filename: str, actor: str, dry_run: bool) -> int:
    """Record an import as running (the caller commits it at once, so the console shows it)."""
    run = HistoryImport(filename=filename[:255], actor=actor, dry_run=dry_run, state="running", rows=0,
                        counts={}, problems=[])
    session.add(run)
    session.flush()
    return run.id


def finish(session: Session, *, run_id: int, result: Imported | None = None,
           error: BatchError | Exception | None = None, shown: int = 50) -> None:
    """Record how an import ended: its counts, or the first problems that refused it."""
    values: dict = {"finished_at": datetime.now(timezone.utc)}
    if result is not None:
        values.update(state="checked" if result.dry_run else "imported", rows=result.rows, counts=result.counts())
    elif isinstance(error, BatchError):
        values.update(state="refused", problems=[{"place": error.describe(p), "message": p.message}
                                                 for p in error.problems[:shown]],
                      counts={"problems": getattr(error, "total", len(error.problems))})
    else:
        values.update(state="refused", problems=[{"place": "", "message": str(error)}], counts={"problems": 1})
    session.execute(update(HistoryImport).where(HistoryImport.id == run_id).values(**values))


def recent(session: Session, *, limit: int = 20) -> list[HistoryImport]:
    """The latest imports, newest first."""
    return list(session.scalars(select(HistoryImport).order_by(HistoryImport.id.desc()).limit(limit)))
