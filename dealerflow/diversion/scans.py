"""Scans of product codes by stores, consumers and inspectors, in batches (a JSON array, NDJSON or
CSV), with diversion detection in the database.

Unlike fulfilment imports a batch is not all or nothing: scans arrive from thousands of devices,
and one bad row must not hold back the others. Each invalid row is reported with its index (or
line) and reason; the valid ones are recorded. A scan's id is the sender's, unique: a batch sent
again is recorded once and raises no alert twice.

A batch is copied into a temporary table (COPY), then one statement records the new scans, finds
the alerts among them by the active rule file's thresholds (joining the codes and their authorised
regions); a few more file the alerts into their cases."""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Mapping, Sequence

from dealerflow.core import errors
from sqlalchemy.orm import Session

from dealerflow.diversion import cases as diversion
from dealerflow.contracts import CaseStart
from dealerflow.shared.uploads import parse_amount, parse_time, read_table, text_of
from dealerflow.models import SCANNER_KINDS

MAX_UPLOAD = 20 * 1024 * 1024
CLOCK_SKEW = timedelta(minutes=10)  # device clocks run a little ahead
FIELDS = ("scan_id", "code", "region", "price", "scanned_at", "kind")
REQUIRED = ("scan_id", "code", "region", "scanned_at", "kind")
_FIELD_SET = frozenset(FIELDS)
_KINDS = frozenset(SCANNER_KINDS)
_TOKEN = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII without spaces: ids and codes as devices send them
_PRICE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
# A region code as dealers' regions are written (east, north-2, reg_5f3a). Any well-formed code is
# taken: a region no dealer covers is exactly where diverted goods turn up.
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Invalid:
    row: int  # index in the JSON array, or line of the NDJSON/CSV upload
    field: str | None
    message: str


@dataclass
class Ingested:
    received: int
    accepted: int  # new scans recorded
    duplicates: int  # scan ids recorded before, or repeated in the batch
    invalid: list[Invalid]
    unit: str  # "index" or "line"
    alerts: int = 0
    cases: list[CaseStart] = field(default_factory=list)  # cases opened: their workflows start after commit
    joined: int = 0  # open cases the alerts joined
    detection: bool = True  # False when no diversion rule file is deployed


# --- reading uploads ---------------------------------------------------------------------------------

def _text(data: bytes) -> str:
    return text_of(data, expected="CSV or NDJSON", save_as="UTF-8 text")


def read_ndjson(data: bytes) -> tuple[list, list[int], list[Invalid]]:
    """One JSON object per line: (rows, their lines, lines that are not JSON)."""
    rows, lines, bad = [], [], []
    for n, line in enumerate(_text(data).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
            lines.append(n)
        except ValueError as e:
            bad.append(Invalid(n, None, f"not JSON: {e.msg} at column {e.colno}"))
        except RecursionError:
            bad.append(Invalid(n, None, "not JSON: nested too deeply"))
    return rows, lines, bad


def read_csv(data: bytes) -> tuple[list, list[int], list[Invalid]]:
    """A header row naming the columns (any order; price may be left out), then one scan a line."""
    table = read_table(_text(data))
    if not table.header_line:
        raise errors.Invalid(f"empty file: expected a header row with {', '.join(FIELDS)}", field="file")
    names = table.names
    unknown = [n for n in names if n not in _FIELD_SET]
    missing = [n for n in REQUIRED if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        problems = [f"unknown column {n!r}" for n in unknown] + [f"missing column {n!r}" for n in missing]
        raise errors.Invalid(f"line {table.header_line}: " + ("; ".join(problems) or "a column appears twice")
                             + f" (expected {', '.join(FIELDS)}, separated by commas)", field="file")
    bad = [Invalid(line, None, f"{cells} values for {len(names)} columns") for line, cells in table.misfits]
    rows, lines = [], []
    for row, line in zip(table.rows, table.lines):
        if len(row) == len(names):
            rows.append(row)
            lines.append(line)
        else:
            bad.append(Invalid(line, None, f"{len(row)} values for {len(names)} columns"))
    return rows, lines, sorted(bad, key=lambda b: b.row)


# --- checking rows -----------------------------------------------------------------------------------

def check_rows(rows: Sequence, numbers: Sequence[int], *,
               now: datetime) -> tuple[list[tuple], list[Invalid], int]:
    """(valid scans as tuples, invalid rows, repeats of a scan id within the batch)."""
    valid, invalid, seen, repeats = [], [], set(), 0
    latest = now + CLOCK_SKEW
    for n, raw in zip(numbers, rows):
        if not isinstance(raw, Mapping):
            invalid.append(Invalid(n, None, f"expected an object with {', '.join(FIELDS)}"))
            continue
        problem = _check(raw, latest)
        if isinstance(problem, Invalid):
            invalid.append(Invalid(n, problem.field, problem.message))
        elif problem[0] in seen:
            repeats += 1
        else:
            seen.add(problem[0])
            valid.append(problem)
    return valid, invalid, repeats


def _check(raw: Mapping, latest: datetime):
    """The scan as a tuple, or an Invalid (row 0: the caller numbers it). Written for speed: the
    common case takes the first branch of every test; messages are built only for bad rows."""
    if not raw.keys() <= _FIELD_SET:
        name = next(k for k in raw if k not in _FIELD_SET)
        return Invalid(0, str(name), f"unknown field; expected {', '.join(FIELDS)}")
    scan_id, code = raw.get("scan_id"), raw.get("code")
    for name, v in (("scan_id", scan_id), ("code", code)):
        if type(v) is not str or not _TOKEN.fullmatch(v):
            return Invalid(0, name, "required" if v is None or v == "" else
                           "expected 1 to 64 printable characters without spaces, got " + repr(v)[:80])
    region = raw.get("region")
    if type(region) is not str or not _REGION.fullmatch(region):
        return Invalid(0, "region", "required" if region is None or region == "" else
                       "expected a region code (up to 64 letters, digits, '-', '_' or '.'), got "
                       + repr(region)[:80])
    price = raw.get("price")
    if price is None or price == "":
        price = None
    elif type(price) is str and _PRICE.fullmatch(price):
        price = Decimal(price)
        if not price:
            return Invalid(0, "price", f"must be greater than 0, got {raw['price']!r}")
    elif isinstance(price, bool) or not isinstance(price, (str, int, float)):
        return Invalid(0, "price", f"expected an amount like 899.00, got {price!r}")
    else:
        try:
            price = parse_amount(str(price).strip())
        except ValueError as e:
            return Invalid(0, "price", str(e))
    at = stamp = raw.get("scanned_at")
    try:
        at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            raise ValueError
        at.astimezone(timezone.utc)  # out of range once in UTC: parse_time says so below
    except (TypeError, ValueError, OverflowError):
        stamp = None
        at = raw.get("scanned_at")
        if at is None or at == "":
            return Invalid(0, "scanned_at", "required")
        if type(at) is not str:
            return Invalid(0, "scanned_at", f"expected an ISO 8601 time with offset, got {at!r}")
        try:
            at = parse_time(at.strip())  # a date, or a message that says what is wrong
        except ValueError as e:
            return Invalid(0, "scanned_at", str(e))
    if at > latest:
        return Invalid(0, "scanned_at", f"{raw['scanned_at']!r} is in the future")
    kind = raw.get("kind")
    if kind not in _KINDS:
        return Invalid(0, "kind", "required" if kind in (None, "") else
                       f"{str(kind)[:32]!r} is not one of {', '.join(SCANNER_KINDS)}")
    return scan_id, code, region, price, at, kind, stamp or at.isoformat()


# --- recording and detecting -------------------------------------------------------------------------

_STAGE = """create temporary table if not exists scan_stage (
    scan_id varchar(64) collate "C", code varchar(64) collate "C", region varchar(64), price numeric(14, 2),
    scanned_at timestamptz,
    kind varchar(16)) on commit delete rows"""

_SCAN_HITS = """new as (
    insert into scans (scan_id, code, region, price, scanned_at, kind)
    select scan_id, code, region, price, scanned_at, kind from scan_stage
    on conflict (scan_id) do nothing
    returning scan_id, code, region, price, scanned_at
), seen as (  -- only the scans that raise an alert: a hundredth of them, not every row of the batch
    select n.scan_id, n.code, n.region, n.price, n.scanned_at, c.code is not null as known, c.dealer_id,
           c.product_id, c.region as home, p.guide_price
    from new n left join product_codes c on c.code = n.code
    left join products p on p.id = c.product_id and n.price is not null
    where (:unknown_code and c.code is null) or (:out_of_region and c.region <> n.region)
       or (:price and n.price < p.guide_price * :price_floor)
), hits as (
    select scan_id, code, dealer_id, product_id, region, 'out_of_region'::varchar as trigger, price,
           null::numeric as guide_price, null::int as units, null::numeric as baseline, scanned_at as at
    from seen where :out_of_region and home <> region
    union all
    select scan_id, code, dealer_id, product_id, region, 'price', price, guide_price, null, null, scanned_at
    from seen where :price and price < guide_price * :price_floor
    union all
    select scan_id, code, null, null, region, 'unknown_code', price, null, null, null, scanned_at
    from seen where :unknown_code and not known
)"""


_NULL = "\\N"


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})  # COPY's text format


def _escaped(value: str) -> str:
    return value.translate(_ESCAPES) if "\\" in value or not value.isprintable() else value


def _copy_line(scan: tuple) -> str:
    """A scan as a line of COPY's text format. Ids and codes are printable ASCII without spaces; the
    time is as sent (ISO 8601 with offset, which PostgreSQL reads the same) or as parsed from a date."""
    scan_id, code, region, price, _, kind, stamp = scan
    return (f"{_escaped(scan_id)}\t{_escaped(code)}\t{_escaped(region)}\t{_NULL if price is None else price}\t"
            f"{stamp}\t{kind}\n")


def ingest(session: Session, rows: Sequence, *, lines: Sequence[int] | None = None,
           unreadable: Sequence[Invalid] = (), now: datetime | None = None) -> Ingested:
    """Record a batch of scans in the caller's transaction and raise its alerts. `lines` numbers the
    rows of an upload (without them, rows are named by their index); `unreadable` are upload lines
    that could not be read as rows."""
    now = now or datetime.now(timezone.utc)
    numbers = list(lines) if lines is not None else list(range(len(rows)))
    valid, invalid, repeats = check_rows(rows, numbers, now=now)
    invalid = sorted([*unreadable, *invalid], key=lambda p: p.row)
    out = Ingested(received=len(rows) + len(unreadable), accepted=0, duplicates=repeats, invalid=invalid,
                   unit="index" if lines is None else "line")
    if not valid:
        return out
    connection = session.connection()
    connection.exec_driver_sql(_STAGE)
    connection.exec_driver_sql("delete from scan_stage")  # rows of an earlier batch in this transaction
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.copy_expert("copy scan_stage from stdin", io.StringIO("".join(map(_copy_line, valid))))
    active = diversion.rules(session)
    spec = active[1] if active else None
    price = spec.trigger("price") if spec else None
    params = {"out_of_region": bool(spec and spec.trigger("out_of_region")), "price": price is not None,
              "price_floor": 1 - price.under_guide_by if price else Decimal(0),
              "unknown_code": bool(spec and spec.trigger("unknown_code"))}
    found = diversion.find_alerts(session, _SCAN_HITS, params, ", (select count(*) from new) as accepted")
    out.accepted, out.detection = found.accepted, active is not None
    out.duplicates += len(valid) - out.accepted
    if found.hits:
        filed = diversion.file_alerts(session)
        out.alerts, out.cases, out.joined = filed.alerts, filed.cases, filed.joined
    return out
