"""Products: create, read, change, deactivate, each change audited. Orders keep the prices they were
placed at; a deactivated product is no longer sold."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.models import Product

from . import audit
from .records import fingerprint, like

FIELDS = ("name", "category", "unit", "pack_size", "unit_price", "guide_price", "active")
DEFAULTS = dict(category="other", unit="件", pack_size=1, guide_price=None, active=True)


def find(session: Session, sku: str, *, lock: bool = False) -> Product:
    q = select(Product).where(Product.sku == sku)
    product = session.scalars(q.with_for_update() if lock else q).first()
    if product is None:
        raise NotFound("product not found")
    return product


def values(product: Product) -> dict:
    return {f: getattr(product, f) for f in FIELDS}


def etag(product: Product) -> str:
    return fingerprint(values(product))


def filter(q: Select, *, search: str | None = None, category: str | None = None,
           active: bool | None = None) -> Select:
    if search:
        q = q.where(or_(Product.sku.ilike(like(search)), Product.name.ilike(like(search))))
    if category:
        q = q.where(Product.category == category)
    if active is not None:
        q = q.where(Product.active.is_(active))
    return q


def _check(wanted: dict) -> None:
    if wanted["guide_price"] is not None and wanted["guide_price"] < Decimal("0"):
        raise Invalid("a guide price is not negative", field="guide_price")


def create(session: Session, *, sku: str, actor: str = "system", via: str = "api", **fields) -> Product:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise Invalid(f"not a field of a product: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if session.scalar(select(Product.id).where(Product.sku == sku)):
        raise Conflict(f"product {sku!r} already exists", field="sku")
    wanted = {**DEFAULTS, **fields}
    _check(wanted)
    product = Product(sku=sku, **wanted)
    session.add(product)
    session.flush()
    audit.record(session, record_type="product", key=sku, before={}, after=wanted, actor=actor, via=via,
                 note="created")
    return product


def update(session: Session, *, sku: str, changes: dict, expected: str | None = None, actor: str = "system",
           via: str = "api") -> Product:
    """Change some of FIELDS; `expected` as for a dealer (a stale edit is a Conflict)."""
    product = find(session, sku, lock=True)
    current = values(product)
    if expected is not None and expected != fingerprint(current):
        raise Conflict(f"product {sku} was changed by someone else since it was read: "
                       "reload it and make the change again")
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid(f"not a field of a product that can be changed: {', '.join(sorted(unknown))}",
                      field=sorted(unknown)[0])
    wanted = {**current, **changes}
    _check(wanted)
    for name, value in changes.items():
        setattr(product, name, value)
    session.flush()
    audit.record(session, record_type="product", key=sku, before=current, after=wanted, actor=actor, via=via)
    return product


def deactivate(session: Session, *, sku: str, actor: str = "system", via: str = "api") -> Product:
    return update(session, sku=sku, changes={"active": False}, actor=actor, via=via)
