"""Dealers: create, read, change, deactivate, with every change audited. One set of checks
(`problems`) serves a single edit and a whole import: a level-2 dealer has a level-1 parent that
exists (in the database or in the same file), a parent is never level 2, no chain of parents loops,
a dealer with level-2 dealers under it stays level 1, an account manager is an active user of that role.

A raise of the credit limit above the credit rule file's threshold is not applied here: it becomes
a pending change for a second person (credit_limits.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.models import Dealer, User
from dealerflow.shared.accounts import CHINA

from . import audit
from .records import fingerprint, like

CHANNELS = ("retail", "wholesale", "engineering", "ecommerce")
# A tag is what rule files test with "tag" in dealer.tags (policies_dsl SET_MEMBER).
TAG = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
STATUSES = ("active", "suspended", "ended")
RATINGS = ("A", "B", "C", "D")
# What an edit may change (everything but the code); `parent_code` names the parent by its code.
FIELDS = ("name", "legal_name", "region", "province", "city", "channel", "tags", "tier", "level", "parent_code",
          "credit_limit", "outstanding", "rating", "overdue_days", "account_manager", "contact_name",
          "contact_phone", "contact_birthday", "cooperation_since", "payment_terms_days", "status")
DEFAULTS = dict(legal_name=None, province=None, city=None, channel="retail", tags=[], tier="normal", level=1,
                parent_code=None, credit_limit=Decimal("0.00"), outstanding=Decimal("0.00"), rating="C",
                overdue_days=0, account_manager=None, contact_name=None, contact_phone=None, contact_birthday=None,
                cooperation_since=None, payment_terms_days=30, status="active")


def today():
    return datetime.now(CHINA).date()


# --- reading ----------------------------------------------------------------------------------------

def find(session: Session, code: str, *, lock: bool = False) -> Dealer:
    q = select(Dealer).where(Dealer.code == code)
    dealer = session.scalars(q.with_for_update() if lock else q).first()
    if dealer is None:
        raise NotFound("dealer not found")
    return dealer


def values(session: Session, dealer: Dealer) -> dict:
    """The dealer's editable values, its parent by code."""
    parent = session.get(Dealer, dealer.parent_id) if dealer.parent_id else None
    out = {f: getattr(dealer, f) for f in FIELDS if f != "parent_code"}
    out["tags"] = list(dealer.tags or [])
    out["parent_code"] = parent.code if parent else None
    return out


def etag(session: Session, dealer: Dealer) -> str:
    return fingerprint(values(session, dealer))


def filter(q: Select, *, search: str | None = None, region: str | None = None, tier: str | None = None,
           level: int | None = None, status: str | None = None, channel: str | None = None,
           account_manager: str | None = None) -> Select:
    """`q` (a select over Dealer) narrowed: `search` in the code, the name or the legal name, the rest exact."""
    if search:
        q = q.where(or_(Dealer.code.ilike(like(search)), Dealer.name.ilike(like(search)),
                        Dealer.legal_name.ilike(like(search))))
    for column, value in ((Dealer.region, region), (Dealer.tier, tier), (Dealer.level, level),
                          (Dealer.status, status), (Dealer.channel, channel),
                          (Dealer.account_manager, account_manager)):
        if value is not None and value != "":
            q = q.where(column == value)
    return q


def choices(session: Session) -> dict[str, list]:
    """The regions and tiers dealers have, for a list's filters."""
    return {"regions": list(session.scalars(select(Dealer.region).distinct().order_by(Dealer.region))),
            "tiers": list(session.scalars(select(Dealer.tier).distinct().order_by(Dealer.tier))),
            "statuses": list(STATUSES), "channels": list(CHANNELS)}


# --- checking ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    code: str
    field: str
    message: str


def graph(session: Session, records: dict[str, dict]) -> dict[str, tuple[int, str | None]]:
    """code → (level, parent code) of the dealers `records` (code → wanted values) touch: themselves,
    the parents they name and the dealers under them, the database's state with `records` over it."""
    codes = set(records) | {v.get("parent_code") for v in records.values()} - {None}
    parent = aliased(Dealer)
    rows = session.execute(
        select(Dealer.code, Dealer.level, parent.code).outerjoin(parent, parent.id == Dealer.parent_id)
        .where(or_(Dealer.code.in_(codes), parent.code.in_(set(records))))).all()
    out = {code: (level, parent_code) for code, level, parent_code in rows}
    out.update({code: (v["level"], v.get("parent_code")) for code, v in records.items()})
    return out


def active_managers(session: Session, names: set[str]) -> set[str]:
    return set(session.scalars(select(User.username).where(
        User.username.in_(names), User.role == "account_manager", User.active.is_(True)))) if names else set()


def problems(records: dict[str, dict], known: dict[str, tuple[int, str | None]], managers: set[str],
             current: dict[str, dict] | None = None) -> list[Problem]:
    """Every problem of the wanted dealers (code → complete values) against `known` (graph()). A
    channel or account manager a dealer already has (`current`: code → stored values) is not refused
    again: an older channel name or a manager who has left stays until someone changes it."""
    current = current or {}
    out: list[Problem] = []
    children: dict[str, list[str]] = {}
    for code, (_, parent) in known.items():
        if parent:
            children.setdefault(parent, []).append(code)
    for code, v in records.items():
        level, parent = v["level"], v.get("parent_code")
        if parent:
            chain, at = [code], parent
            while at is not None and at not in chain and at in known:
                chain.append(at)
                at = known[at][1]
            if parent == code:
                out.append(Problem(code, "parent_code", "a dealer is not its own parent"))
            elif at in chain:
                out.append(Problem(code, "parent_code", "a cycle: " + " → ".join(chain + [at])))
            elif parent not in known:
                out.append(Problem(code, "parent_code", f"unknown dealer {parent!r}"))
            elif known[parent][0] != 1:
                out.append(Problem(code, "parent_code",
                                   f"dealer {parent!r} is a level-2 dealer; a parent is a level-1 dealer"))
        if (level == 2) != bool(parent):
            out.append(Problem(code, "parent_code", "a level-2 dealer needs a parent, level 1 none"))
        if level == 2 and children.get(code):
            out.append(Problem(code, "level", f"this dealer has level-2 dealers under it ({children[code][0]}): "
                                              "it stays level 1"))
        kept = current.get(code, {})
        if v.get("account_manager") and v["account_manager"] not in managers and \
                v["account_manager"] != kept.get("account_manager"):
            out.append(Problem(code, "account_manager",
                               f"unknown account manager {v['account_manager']!r} (an active user of that role)"))
        if v.get("channel") not in CHANNELS and v.get("channel") != kept.get("channel"):
            out.append(Problem(code, "channel", f"{v.get('channel')!r} is not a channel: {', '.join(CHANNELS)}"))
        bad_tags = [t for t in v.get("tags") or [] if not TAG.match(t)]
        if bad_tags:
            out.append(Problem(code, "tags", f"{bad_tags[0]!r} is not a tag: lower case letters, digits and "
                                             "underscores, like window_specialist"))
        if v.get("status") not in STATUSES:
            out.append(Problem(code, "status", f"{v.get('status')!r} is not a status: {', '.join(STATUSES)}"))
    return out


def _refuse(found: list[Problem]) -> None:
    if found:
        raise Invalid.listing([{"field": p.field, "message": p.message} for p in found])


def _check(session: Session, records: dict[str, dict], current: dict[str, dict] | None = None) -> None:
    _refuse(problems(records, graph(session, records),
                     active_managers(session, {v["account_manager"] for v in records.values()
                                               if v.get("account_manager")}), current))


def parent_ids(session: Session, codes: set[str]) -> dict[str, int]:
    return dict(session.execute(select(Dealer.code, Dealer.id).where(Dealer.code.in_(codes))).all()) if codes else {}


# --- changing ---------------------------------------------------------------------------------------

def create(session: Session, *, code: str, actor: str = "system", via: str = "api", threshold: Decimal | None = None,
           **fields) -> "Updated":
    """A new dealer (`fields`: some of FIELDS, the rest DEFAULTS); a code already taken is a Conflict. A
    credit limit above `threshold` is held for approval like a raise: the dealer starts at 0."""
    from . import credit_limits

    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise Invalid(f"not a field of a dealer: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if session.scalar(select(Dealer.id).where(Dealer.code == code)):
        raise Conflict(f"dealer {code!r} already exists", field="code")
    wanted = {**DEFAULTS, **fields}
    wanted["cooperation_since"] = wanted["cooperation_since"] or today()
    wanted["tags"] = list(wanted["tags"] or [])
    _check(session, {code: wanted})
    asked = wanted["credit_limit"]
    held = threshold is not None and credit_limits.needs_approval(Decimal("0"), asked, threshold)
    if held:
        wanted["credit_limit"] = Decimal("0.00")
    parent_code = wanted.pop("parent_code")
    dealer = Dealer(code=code, parent_id=parent_ids(session, {parent_code})[parent_code] if parent_code else None,
                    **wanted)
    session.add(dealer)
    session.flush()
    fields = audit.record(session, record_type="dealer", key=code, before={},
                          after={**wanted, "parent_code": parent_code}, actor=actor, via=via, note="created")
    pending = credit_limits.request(session, dealer=dealer, new_limit=asked, threshold=threshold, actor=actor) \
        if held else None
    return Updated(dealer, fields, pending)


@dataclass(frozen=True)
class Updated:
    dealer: Dealer
    changed: list[str]
    limit_change: object | None = None  # a credit_limits.Pending when a raise waits for approval


def update(session: Session, *, code: str, changes: dict, expected: str | None = None, actor: str = "system",
           via: str = "api", threshold: Decimal | None = None) -> Updated:
    """Change some of FIELDS. With `expected` (the fingerprint the editor read), refused as a Conflict
    when the dealer has changed since. A credit limit raised above `threshold` is held for approval
    (credit_limits.request); the other changes apply."""
    from . import credit_limits  # the pending raise's module also applies an approved one through here

    dealer = find(session, code, lock=True)
    current = values(session, dealer)
    if expected is not None and expected != fingerprint(current):
        raise Conflict(f"dealer {code} was changed by someone else since it was read: "
                       "reload it and make the change again")
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid(f"not a field of a dealer that can be changed: {', '.join(sorted(unknown))}",
                      field=sorted(unknown)[0])
    changes = dict(changes)
    pending = None
    if "credit_limit" in changes and threshold is not None and credit_limits.needs_approval(
            current["credit_limit"], changes["credit_limit"], threshold):
        pending = credit_limits.request(session, dealer=dealer, new_limit=changes.pop("credit_limit"),
                                        threshold=threshold, actor=actor)
    wanted = {**current, **changes}
    if "tags" in changes:
        wanted["tags"] = list(changes["tags"] or [])
    if wanted["cooperation_since"] is None:
        raise Invalid("a dealer cooperates since a date", field="cooperation_since")
    _check(session, {code: wanted}, {code: current})
    if wanted["parent_code"] != current["parent_code"]:
        dealer.parent_id = parent_ids(session, {wanted["parent_code"]})[wanted["parent_code"]] \
            if wanted["parent_code"] else None
    for name in FIELDS:
        if name != "parent_code":
            setattr(dealer, name, wanted[name])
    session.flush()
    fields = audit.record(session, record_type="dealer", key=code, before=current, after=wanted, actor=actor, via=via)
    return Updated(dealer, fields, pending)


def deactivate(session: Session, *, code: str, status: str = "ended", actor: str = "system",
               via: str = "api") -> Dealer:
    """Suspend or end the cooperation: the dealer stays, with its history; it can no longer order."""
    if status not in ("suspended", "ended"):
        raise Invalid("suspended or ended", field="status")
    return update(session, code=code, changes={"status": status}, actor=actor, via=via).dealer


def check_may_order(session: Session, dealer_id: int) -> None:
    """A suspended or ended dealer places no new order (a Conflict saying why)."""
    code, status = session.execute(select(Dealer.code, Dealer.status).where(Dealer.id == dealer_id)).one()
    check_status(code, status)


def check_status(code: str, status: str) -> None:
    """`check_may_order` on a dealer row already read (placing an order reads it under its lock)."""
    if status != "active":
        raise Conflict(f"dealer {code} is {status}: it cannot place new orders; ask its account manager",
                       field="dealer")


def count_children(session: Session, dealer: Dealer) -> int:
    return session.scalar(select(func.count()).where(Dealer.parent_id == dealer.id))
