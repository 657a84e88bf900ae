"""Bulk import of dealers, products and users from CSV (UTF-8 with or without a byte order mark, or
GB18030 when asked) or XLSX: upsert by code (sku, username), all rows or none, every problem named by
line and column, and a dry run that reports what each row would do (created, updated with the fields,
unchanged) without writing anything.

A column absent from the file keeps the stored value; an empty cell clears a field that may be empty
and keeps (or, for a new record, defaults) one that may not. Writes are set-based: one
INSERT … ON CONFLICT per kind, then the dealers' parents by code, and the audit rows of every changed
field, all in the caller's transaction. A credit limit raised above the credit rule file's threshold
is refused here (a new dealer above it too): that limit needs a second person, on the dealer's page or through the API."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable

from psycopg2.extras import execute_values
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dealerflow.core.security import check_password_policy, hash_password
from dealerflow.core.errors import Invalid
from dealerflow.models import ROLES, Dealer, Product, User
from dealerflow.shared.uploads import BadValue, BatchError, Problem, Table, read_upload_table

from . import audit, credit_limits, dealers, products, users
from .records import changed

KINDS = ("dealers", "products", "users")
MAX_UPLOAD = 10 * 1024 * 1024
MAX_ROWS = 50_000
_MONEY = re.compile(r"^(\d{1,12})(?:\.(\d{1,2}))?$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,30}$")
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_SKU = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


# --- cells ------------------------------------------------------------------------------------------

def _text(limit: int, pattern: re.Pattern | None = None, what: str = "") -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > limit:
            raise BadValue(f"at most {limit} characters, got {len(raw)}")
        if pattern is not None and not pattern.match(raw):
            raise BadValue(f"expected {what}, got {raw!r}")
        return raw
    return parse


def money(raw: str) -> Decimal:
    """An amount of money, 0 or more, at most 2 decimals (a thousands separator is tolerated)."""
    cleaned = raw.replace(",", "")
    if not _MONEY.match(cleaned):
        raise BadValue(f"expected an amount of money like 250000.00, got {raw!r}")
    return Decimal(cleaned).quantize(Decimal("0.01"))


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isascii() or not raw.isdigit():
            raise BadValue(f"expected a whole number, got {raw!r}")
        if not low <= int(raw) <= high:
            raise BadValue(f"must be between {low} and {high}, got {raw}")
        return int(raw)
    return parse


def day(raw: str) -> date:
    try:
        return date.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        raise BadValue(f"expected a date like 2019-03-15, got {raw!r}") from None


def yes_no(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "y", "是"):
        return True
    if value in ("false", "0", "no", "n", "否"):
        return False
    raise BadValue(f"expected true or false, got {raw!r}")


def _choice(options: tuple) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise BadValue(f"{raw!r} is not one of {', '.join(options)}")
        return raw
    return parse


def tags(raw: str) -> list[str]:
    listed = [t.strip() for t in re.split(r"[,;，；、|]", raw) if t.strip()]
    if any(len(t) > 40 for t in listed):
        raise BadValue("a tag has at most 40 characters")
    return sorted(set(listed))


@dataclass(frozen=True)
class Column:
    parse: Callable[[str], object]
    nullable: bool = False  # an empty cell clears it


@dataclass(frozen=True)
class Kind:
    key: str  # the column each row is upserted by
    columns: dict[str, Column]
    required_new: tuple[str, ...]  # columns a new record needs


DEALER_COLUMNS = {
    "code": Column(_text(32, _CODE, "a code of letters, digits, _ . -")),
    "name": Column(_text(200)), "legal_name": Column(_text(200), True), "region": Column(_text(64)),
    "province": Column(_text(32), True), "city": Column(_text(32), True),
    "channel": Column(_choice(dealers.CHANNELS)), "tags": Column(tags, True), "tier": Column(_text(32)),
    "level": Column(lambda raw: _choice(("1", "2"))(raw) and int(raw)),
    "parent_code": Column(_text(32, _CODE, "a dealer code"), True),
    "credit_limit": Column(money), "outstanding": Column(money), "rating": Column(_choice(dealers.RATINGS)),
    "overdue_days": Column(_int(0, 100_000)), "account_manager": Column(_text(64), True),
    "contact_name": Column(_text(64), True), "contact_phone": Column(_text(32, _PHONE, "a phone number"), True),
    "contact_birthday": Column(day, True), "cooperation_since": Column(day),
    "payment_terms_days": Column(_int(0, 3650)), "status": Column(_choice(dealers.STATUSES)),
}
PRODUCT_COLUMNS = {
    "sku": Column(_text(64, _SKU, "a SKU of letters, digits, _ . -")), "name": Column(_text(200)),
    "category": Column(_text(32)), "unit": Column(_text(16)), "pack_size": Column(_int(1, 1_000_000)),
    "unit_price": Column(money), "guide_price": Column(money, True), "active": Column(yes_no),
}
USER_COLUMNS = {
    "username": Column(_text(64, _USERNAME, "a username of letters, digits, _ . @ -")),
    "role": Column(_choice(ROLES)), "dealer_code": Column(_text(32), True), "region": Column(_text(64), True),
    "display_name": Column(_text(64), True), "phone": Column(_text(32, _PHONE, "a phone number"), True),
    "active": Column(yes_no), "password": Column(_text(128), True),
}
KIND = {
    "dealers": Kind("code", DEALER_COLUMNS, ("name", "region")),
    "products": Kind("sku", PRODUCT_COLUMNS, ("name", "unit_price")),
    "users": Kind("username", USER_COLUMNS, ("role", "password")),
}
EXPORT_COLUMNS = {kind: [c for c in spec.columns if c != "password"] for kind, spec in KIND.items()}


# --- the result -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowChange:
    line: int
    key: str
    action: str  # created, updated, unchanged
    fields: list[str]


@dataclass
class Imported:
    kind: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[RowChange] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------------------------

def read(kind: str, data: bytes, *, encoding: str = "utf-8") -> tuple[list[dict], list[int], list[str]]:
    """Parsed rows (column → value, only the columns the file has), their lines and the columns."""
    spec = KIND[kind]
    table: Table = read_upload_table(data, encoding=encoding)
    expected = ", ".join(spec.columns)
    if not table.header_line:
        raise BatchError([Problem(1, None, f"empty file: expected a header row with {expected}")], unit="line")
    problems = []
    for name in table.names:
        if name not in spec.columns:
            hint = "columns are separated by commas" if (";" in name or "\t" in name) else f"expected {expected}"
            problems.append(Problem(table.header_line, name or "(blank)", f"unknown column; {hint}"))
        elif table.names.count(name) > 1 and name not in {p.field for p in problems}:
            problems.append(Problem(table.header_line, name, "column appears more than once"))
    if spec.key not in table.names:
        problems.append(Problem(table.header_line, spec.key, "missing column"))
    problems += [Problem(line, None, f"{cells} values for {len(table.names)} columns") for line, cells in table.misfits]
    if len(table.rows) > MAX_ROWS:
        problems.append(Problem(None, None, f"at most {MAX_ROWS} rows a file: split it"))
    if problems:
        raise BatchError(problems, unit="line")
    rows: list[dict] = []
    first: dict[str, int] = {}
    for raw, line in zip(table.rows, table.lines):
        row = {}
        for name, cell in raw.items():
            cell = cell.strip()
            column = spec.columns[name]
            if cell == "":
                if name == spec.key:
                    problems.append(Problem(line, name, "required"))
                row[name] = None if column.nullable else ...  # ...: keep, or the default of a new record
                continue
            try:
                row[name] = column.parse(cell)
            except BadValue as e:
                problems.append(Problem(line, name, str(e)))
        key = row.get(spec.key)
        if isinstance(key, str):
            if key in first:
                problems.append(Problem(line, spec.key, f"{key!r} is also on line {first[key]}"))
            first.setdefault(key, line)
        rows.append(row)
    if problems:
        raise BatchError(problems, unit="line")
    return rows, list(table.lines), list(table.names)


# --- importing --------------------------------------------------------------------------------------

def run(session: Session, *, kind: str, data: bytes, actor: str, dry_run: bool = False,
        encoding: str = "utf-8", via: str = "import") -> Imported:
    """Check every row, then (unless a dry run) write them all; BatchError names every problem."""
    if kind not in KINDS:
        raise Invalid(f"imports are of {', '.join(KINDS)}", field="kind")
    rows, lines, _ = read(kind, data, encoding=encoding)
    return {"dealers": _dealers, "products": _products, "users": _users}[kind](
        session, rows, lines, actor=actor, dry_run=dry_run, via=via)


def _merge(row: dict, current: dict | None, defaults: dict) -> dict:
    base = dict(current) if current is not None else dict(defaults)
    for name, value in row.items():
        if value is ...:
            continue
        base[name] = value
    return base


def _missing(row: dict, required: tuple[str, ...], line: int) -> list[Problem]:
    return [Problem(line, name, "required for a new record") for name in required
            if row.get(name) in (None, ...)]


def _result(kind: str, dry_run: bool, plans: list[tuple[int, str, dict | None, dict]]) -> Imported:
    out = Imported(kind, dry_run, rows=len(plans))
    for line, key, before, after in plans:
        fields = list(changed(before or {}, after)) if before is not None else []
        action = "created" if before is None else "updated" if fields else "unchanged"
        setattr(out, action, getattr(out, action) + 1)
        out.changes.append(RowChange(line, key, action, fields))
    return out


def upsert(session: Session, table: str, key: str, columns, rows: list[list], *, keep: tuple = (),
           page: int = 1000) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE of `rows` ([key, *columns]) a thousand rows a statement,
    in the caller's transaction; `keep`: columns set on insert only."""
    names = ", ".join((key, *columns))
    changes = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keep)
    with session.connection().connection.cursor() as cursor:
        execute_values(cursor, f"insert into {table} ({names}) values %s on conflict ({key}) do update set {changes}",
                       rows, page_size=page)


def _dealers(session: Session, rows, lines, *, actor: str, dry_run: bool, via: str) -> Imported:
    codes = [r["code"] for r in rows]
    current = {d.code: dealers.values(session, d) for d in session.scalars(
        select(Dealer).where(Dealer.code.in_(codes)))}
    defaults = {**dealers.DEFAULTS, "cooperation_since": dealers.today()}
    problems: list[Problem] = []
    wanted: dict[str, dict] = {}
    line_of: dict[str, int] = {}
    for row, line in zip(rows, lines):
        code = row["code"]
        line_of[code] = line
        if code not in current:
            problems += _missing(row, KIND["dealers"].required_new, line)
        values = _merge({k: v for k, v in row.items() if k != "code"}, current.get(code), defaults)
        values["tags"] = list(values.get("tags") or [])
        wanted[code] = values
    if problems:
        raise BatchError(problems, unit="line")
    known = dealers.graph(session, wanted)
    managers = dealers.active_managers(session, {v["account_manager"] for v in wanted.values()
                                                 if v.get("account_manager")})
    problems += [Problem(line_of[p.code], p.field, p.message)
                 for p in dealers.problems(wanted, known, managers, current)]
    over = credit_limits.threshold(session)
    for code, values in wanted.items():
        old = current[code]["credit_limit"] if code in current else Decimal("0")  # a new dealer starts at 0
        if credit_limits.needs_approval(old, values["credit_limit"], over):
            problems.append(Problem(line_of[code], "credit_limit",
                                    f"a credit limit of {values['credit_limit']:.2f} is above {over:.2f} and needs a "
                                    "second person's approval: set it on the dealer's page"))
    if problems:
        raise BatchError(problems, unit="line")
    plans = [(line_of[c], c, current.get(c), v) for c, v in wanted.items()]
    result = _result("dealers", dry_run, plans)
    if dry_run:
        return result
    written = [c for c, v in wanted.items() if c not in current or changed(current[c], v)]
    if written:
        columns = [f for f in dealers.FIELDS if f != "parent_code"]
        upsert(session, "dealers", "code", columns, [[c, *(wanted[c][f] for f in columns)] for c in written])
        session.execute(text("""
            update dealers d set parent_id = p.id
            from unnest(cast(:codes as text[]), cast(:parents as text[])) as w(code, parent)
            left join dealers p on p.code = w.parent
            where d.code = w.code and d.parent_id is distinct from p.id"""),
                        {"codes": written, "parents": [wanted[c]["parent_code"] for c in written]})
    audit.write(session, [r for c in written for r in audit.audit_rows(
        record_type="dealer", key=c, before=current.get(c) or {}, after=wanted[c], actor=actor, via=via,
        note=None if c in current else "imported")])
    return result


def _products(session: Session, rows, lines, *, actor: str, dry_run: bool, via: str) -> Imported:
    skus = [r["sku"] for r in rows]
    current = {p.sku: products.values(p) for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
    problems: list[Problem] = []
    wanted: dict[str, dict] = {}
    line_of: dict[str, int] = {}
    for row, line in zip(rows, lines):
        sku = row["sku"]
        line_of[sku] = line
        if sku not in current:
            problems += _missing(row, KIND["products"].required_new, line)
        wanted[sku] = _merge({k: v for k, v in row.items() if k != "sku"}, current.get(sku), products.DEFAULTS)
    if problems:
        raise BatchError(problems, unit="line")
    plans = [(line_of[s], s, current.get(s), v) for s, v in wanted.items()]
    result = _result("products", dry_run, plans)
    if dry_run:
        return result
    written = [s for s, v in wanted.items() if s not in current or changed(current[s], v)]
    if written:
        upsert(session, "products", "sku", products.FIELDS, [[s, *(wanted[s][f] for f in products.FIELDS)]
                                                            for s in written])
    audit.write(session, [r for s in written for r in audit.audit_rows(
        record_type="product", key=s, before=current.get(s) or {}, after=wanted[s], actor=actor, via=via,
        note=None if s in current else "imported")])
    return result


def _users(session: Session, rows, lines, *, actor: str, dry_run: bool, via: str) -> Imported:
    names = [r["username"] for r in rows]
    current = {u.username: users.values(u) for u in session.scalars(select(User).where(User.username.in_(names)))}
    codes = {r.get("dealer_code") for r in rows} - {None, ...}
    dealer_ids = dict(session.execute(select(Dealer.code, Dealer.id).where(Dealer.code.in_(codes))).all()) \
        if codes else {}
    problems: list[Problem] = []
    wanted: dict[str, dict] = {}
    passwords: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for row, line in zip(rows, lines):
        name = row["username"]
        line_of[name] = line
        password = row.pop("password", None)
        if name in current:
            if password not in (None, ...):
                problems.append(Problem(line, "password", "an existing user's password is reset on its page, "
                                                          "not by import: leave the cell empty"))
        else:
            if password in (None, ...):
                problems.append(Problem(line, "password", "required for a new user"))
            else:
                try:
                    check_password_policy(password, username=name)
                    passwords[name] = password
                except Invalid as e:
                    problems.append(Problem(line, "password", e.message))
            if row.get("role") in (None, ...):
                problems.append(Problem(line, "role", "required for a new record"))
        values = _merge({k: v for k, v in row.items() if k != "username"}, current.get(name),
                        dict(dealer_code=None, region=None, display_name=None, phone=None, active=True))
        if values.get("role") is not ...:
            if values["role"] != "dealer" and "dealer_code" not in row:
                values["dealer_code"] = None
            if values["role"] != "region_manager" and "region" not in row:
                values["region"] = None
            problems += [Problem(line, f, m) for f, m in users.problems(values, set(dealer_ids))]
        if name == actor and values.get("active") is False:
            problems.append(Problem(line, "active", "you cannot deactivate yourself"))
        wanted[name] = values
    if problems:
        raise BatchError(problems, unit="line")
    plans = [(line_of[n], n, current.get(n), v) for n, v in wanted.items()]
    result = _result("users", dry_run, plans)
    if dry_run:
        return result
    written = [n for n, v in wanted.items() if n not in current or changed(current[n], v)]
    if written:
        def row_of(n):
            v = wanted[n]
            return dict(username=n, role=v["role"], dealer_id=dealer_ids.get(v["dealer_code"]), region=v["region"],
                        display_name=v["display_name"], phone=v["phone"], active=v["active"],
                        password_hash=hash_password(passwords[n]) if n in passwords else "!")
        columns = ("role", "dealer_id", "region", "display_name", "phone", "active")
        rows_of = [row_of(n) for n in written]
        upsert(session, "users", "username", columns + ("password_hash",),
               [[r["username"], *(r[c] for c in columns), r["password_hash"]] for r in rows_of],
               keep=("password_hash",))
    audit.write(session, [r for n in written for r in audit.audit_rows(
        record_type="user", key=n, before=current.get(n) or {}, after=wanted[n], actor=actor, via=via,
        note=None if n in current else "imported")])
    return result
