"""Master data: dealers, products and users, as an administrator keeps them. Keyword-only services; the
caller commits (an IntegrityError on commit is the caller's Conflict).

An edit names what it expects to change: `expected` is the fingerprint of the record as the editor
read it (`fingerprint`), so an edit made on a stale form is refused rather than overwriting someone
else's change."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.core.security import check_password_policy, hash_password
from dealerflow.models import Dealer, Product, User

# What an edit of a dealer may change (the fields of its creation, less its code).
DEALER_FIELDS = ("name", "region", "tier", "level", "parent_code", "credit_limit", "outstanding", "rating",
                 "overdue_days", "account_manager")
PRODUCT_FIELDS = ("name", "category", "unit_price", "guide_price")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def filter_dealers(q: Select, *, search: str | None = None, region: str | None = None, tier: str | None = None,
                   level: int | None = None) -> Select:
    """`q` (a select over Dealer) narrowed: `search` in the code or the name, the rest exact."""
    if search:
        q = q.where(or_(Dealer.code.ilike(_like(search)), Dealer.name.ilike(_like(search))))
    if region:
        q = q.where(Dealer.region == region)
    if tier:
        q = q.where(Dealer.tier == tier)
    if level is not None:
        q = q.where(Dealer.level == level)
    return q


def dealer_choices(session: Session) -> dict[str, list]:
    """The regions and tiers dealers have, for a list's filters."""
    return {"regions": list(session.scalars(select(Dealer.region).distinct().order_by(Dealer.region))),
            "tiers": list(session.scalars(select(Dealer.tier).distinct().order_by(Dealer.tier)))}


def _values(obj, fields) -> dict:
    return {f: (str(v) if isinstance(v := getattr(obj, f), Decimal) else v) for f in fields}


def fingerprint(values: dict) -> str:
    """A short digest of a record's editable values, as an edit form read them."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dealer_values(session: Session, dealer: Dealer) -> dict:
    parent = session.get(Dealer, dealer.parent_id) if dealer.parent_id else None
    return {**_values(dealer, [f for f in DEALER_FIELDS if f != "parent_code"]),
            "parent_code": parent.code if parent else None}


def find_dealer(session: Session, code: str) -> Dealer:
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    if dealer is None:
        raise NotFound("dealer not found")
    return dealer


def _parent_id(session: Session, level: int, parent_code: str | None, *, code: str | None = None) -> int | None:
    parent_id = None
    if parent_code:
        parent = session.scalars(select(Dealer).where(Dealer.code == parent_code)).first()
        if parent is None:
            raise Invalid(f"unknown dealer {parent_code!r}", field="parent_code")
        if parent.code == code:
            raise Invalid("a dealer is not its own parent", field="parent_code")
        if parent.level != 1:
            raise Invalid(f"dealer {parent_code!r} is a level-2 dealer; a parent is a level-1 dealer",
                          field="parent_code")
        parent_id = parent.id
    if (level == 2) != (parent_id is not None):
        raise Invalid("a level-2 dealer needs a parent, level 1 none", field="parent_code")
    return parent_id


def create_dealer(session: Session, *, code: str, parent_code: str | None = None, level: int = 1, **fields) -> Dealer:
    """A new dealer (`fields`: the other DEALER_FIELDS)."""
    dealer = Dealer(code=code, level=level, parent_id=_parent_id(session, level, parent_code), **fields)
    session.add(dealer)
    return dealer


def update_dealer(session: Session, *, code: str, changes: dict, expected: str | None = None) -> Dealer:
    """Change a dealer's fields (`changes`: some of DEALER_FIELDS). With `expected`, refused as a
    Conflict when the dealer no longer is as the editor read it. A level-1 dealer with level-2 dealers
    under it stays level 1."""
    dealer = session.scalars(select(Dealer).where(Dealer.code == code).with_for_update()).first()
    if dealer is None:
        raise NotFound("dealer not found")
    current = dealer_values(session, dealer)
    if expected is not None and expected != fingerprint(current):
        raise Conflict(f"dealer {code} was changed by someone else since the form was opened: "
                       "reload it and make the change again")
    unknown = set(changes) - set(DEALER_FIELDS)
    if unknown:
        raise Invalid(f"not a field of a dealer that can be changed: {', '.join(sorted(unknown))}",
                      field=sorted(unknown)[0])
    wanted = {**current, **changes}
    if "level" in changes or "parent_code" in changes:
        level = wanted["level"]
        if level == 2 and session.scalar(select(func.count()).where(Dealer.parent_id == dealer.id)):
            raise Invalid("this dealer has level-2 dealers under it: it stays level 1", field="level")
        dealer.parent_id = _parent_id(session, level, wanted["parent_code"], code=code)
        dealer.level = level
    for name, value in changes.items():
        if name not in ("level", "parent_code"):
            setattr(dealer, name, value)
    session.flush()
    return dealer


def create_product(session: Session, **fields) -> Product:
    """A new product; a sku already taken fails at the commit (IntegrityError)."""
    product = Product(**fields)
    session.add(product)
    return product


def product_values(product: Product) -> dict:
    return _values(product, PRODUCT_FIELDS)


def find_product(session: Session, sku: str) -> Product:
    product = session.scalars(select(Product).where(Product.sku == sku)).first()
    if product is None:
        raise NotFound("product not found")
    return product


def filter_products(q: Select, *, search: str | None = None, category: str | None = None) -> Select:
    if search:
        q = q.where(or_(Product.sku.ilike(_like(search)), Product.name.ilike(_like(search))))
    if category:
        q = q.where(Product.category == category)
    return q


def update_product(session: Session, *, sku: str, changes: dict, expected: str | None = None) -> Product:
    """Change a product's name, category or prices; `expected` as for a dealer. Orders keep the
    prices they were placed at."""
    product = session.scalars(select(Product).where(Product.sku == sku).with_for_update()).first()
    if product is None:
        raise NotFound("product not found")
    if expected is not None and expected != fingerprint(product_values(product)):
        raise Conflict(f"product {sku} was changed by someone else since the form was opened: "
                       "reload it and make the change again")
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise Invalid(f"not a field of a product that can be changed: {', '.join(sorted(unknown))}",
                      field=sorted(unknown)[0])
    for name, value in changes.items():
        setattr(product, name, value)
    session.flush()
    return product


def filter_users(q: Select, *, search: str | None = None, role: str | None = None) -> Select:
    if search:
        q = q.outerjoin(Dealer, User.dealer_id == Dealer.id).where(
            or_(User.username.ilike(_like(search)), Dealer.code.ilike(_like(search))))
    if role:
        q = q.where(User.role == role)
    return q


def create_user(session: Session, *, username: str, password: str, role: str, dealer_code: str | None = None,
                region: str | None = None) -> User:
    """A new user: the password policy, a dealer user's dealer, a region manager's region."""
    check_password_policy(password, username=username)
    dealer = None
    if role == "dealer":
        if not dealer_code:
            raise Invalid("required for a dealer user", field="dealer_code")
        dealer = session.scalars(select(Dealer).where(Dealer.code == dealer_code)).first()
        if dealer is None:
            raise Invalid(f"unknown dealer {dealer_code!r}", field="dealer_code")
    elif dealer_code:
        raise Invalid("only dealer users belong to a dealer", field="dealer_code")
    if (role == "region_manager") != (region is not None):
        raise Invalid("a region manager, and only one, has a region", field="region")
    user = User(username=username, password_hash=hash_password(password), role=role,
                dealer_id=dealer.id if dealer else None, region=region)
    session.add(user)
    return user


@dataclass(frozen=True)
class Region:
    name: str
    dealers: int
    level_1: int
    level_2: int
    account_managers: list[str]
    region_managers: list[str]


def regions(session: Session) -> list[Region]:
    """Every region dealers are in: how many dealers, their account managers, the region's managers."""
    counts = session.execute(
        select(Dealer.region, func.count(), func.count().filter(Dealer.level == 1),
               func.array_remove(func.array_agg(Dealer.account_manager.distinct()), None))
        .group_by(Dealer.region).order_by(Dealer.region)).all()
    managers: dict[str, list[str]] = {}
    for region, username in session.execute(select(User.region, User.username)
                                             .where(User.role == "region_manager").order_by(User.username)):
        managers.setdefault(region, []).append(username)
    return [Region(name, total, level_1, total - level_1, sorted(ams or []), managers.get(name, []))
            for name, total, level_1, ams in counts]

