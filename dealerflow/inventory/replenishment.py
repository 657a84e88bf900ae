"""Replenishment drafts: a day's reorder advice for a dealer becomes one draft order (made by the
daily run for dealers who opted in, or when the dealer asks). The dealer reviews the quantities and
places it in one action; placing goes through the order service and its credit decision like any
other order (api/inventory/temporal.py), with the draft's id as the Idempotency-Key, so placing twice
places one order."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.models import InventoryAdvice, Product, ReplenishmentDraft, ReplenishmentOptIn

DRAFT_NAMESPACE = uuid.UUID("0e7f7c55-2a59-4d0b-9a4e-5b1d3f6f2c11")


def draft_id_for(dealer_id: int, day: date) -> uuid.UUID:
    return uuid.uuid5(DRAFT_NAMESPACE, f"{dealer_id}:{day.isoformat()}")


def idempotency_key(draft_id: uuid.UUID) -> str:
    return f"replenishment-{draft_id}"


_REORDERS = text("""
    select a.id, a.dealer_id, a.product_id, a.quantity, p.sku
    from inventory_advice a join products p on p.id = a.product_id
    where a.day = :day and a.action = 'reorder' and a.status = 'open' and a.quantity > 0
      and (cast(:dealer as int) is null or a.dealer_id = :dealer)
      and (cast(:region as text) is null or a.dealer_id in (select id from dealers where region = :region))
      and (not :opted or a.dealer_id in (select dealer_id from replenishment_opt_ins))
    order by a.dealer_id, p.sku""")


def _drafts(session: Session, *, day: date, dealer_id: int | None, region: str | None, automatic: bool) -> list[uuid.UUID]:
    rows = session.execute(_REORDERS, {"day": day, "dealer": dealer_id, "region": region, "opted": automatic}).all()
    by_dealer: dict[int, list] = {}
    for r in rows:
        by_dealer.setdefault(r.dealer_id, []).append(r)
    made = []
    for dealer, lines in by_dealer.items():
        draft_id = draft_id_for(dealer, day)
        inserted = session.execute(insert(ReplenishmentDraft).values(
            id=draft_id, dealer_id=dealer, day=day, automatic=automatic, status="draft",
            lines=[{"sku": l.sku, "product_id": l.product_id, "quantity": l.quantity, "advice_id": l.id}
                   for l in lines]).on_conflict_do_nothing(index_elements=["id"])).rowcount
        if inserted:
            session.execute(update(InventoryAdvice).where(InventoryAdvice.id.in_([l.id for l in lines]))
                            .values(status="drafted", draft_id=draft_id))
            made.append(draft_id)
    return made


def automatic_drafts(session: Session, *, day: date, region: str | None) -> int:
    """The daily run's drafts, for dealers who opted in: one per dealer and day, once."""
    return len(_drafts(session, day=day, dealer_id=None, region=region, automatic=True))


def draft(session: Session, *, dealer_id: int, day: date | None = None) -> ReplenishmentDraft:
    """The dealer asks for a draft of its latest day's reorder advice."""
    if day is None:
        day = session.scalar(select(InventoryAdvice.day).where(
            InventoryAdvice.dealer_id == dealer_id, InventoryAdvice.action == "reorder")
            .order_by(InventoryAdvice.day.desc()).limit(1))
        if day is None:
            raise NotFound("no reorder advice to draft an order from")
    existing = session.get(ReplenishmentDraft, draft_id_for(dealer_id, day))
    if existing is not None:
        return existing
    if not _drafts(session, day=day, dealer_id=dealer_id, region=None, automatic=False):
        raise NotFound(f"no open reorder advice of {day.isoformat()} to draft an order from")
    session.flush()
    return session.get(ReplenishmentDraft, draft_id_for(dealer_id, day))


def get(session: Session, draft_id: uuid.UUID, dealer_ids: set[int] | None) -> ReplenishmentDraft:
    d = session.get(ReplenishmentDraft, draft_id)
    if d is None or (dealer_ids is not None and d.dealer_id not in dealer_ids):
        raise NotFound("draft not found")
    return d


def lines_for_order(d: ReplenishmentDraft, quantities: dict[str, int] | None) -> list[tuple[str, int]]:
    """The draft's lines as the dealer places them: a quantity changed per sku (0 leaves it out)."""
    if d.status != "draft":
        raise Conflict(f"this draft is {d.status}" + (f" (order {d.order_id})" if d.order_id else ""))
    quantities = quantities or {}
    unknown = set(quantities) - {l["sku"] for l in d.lines}
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]!r} is not in this draft", field="quantities")
    lines = [(l["sku"], quantities.get(l["sku"], l["quantity"])) for l in d.lines]
    lines = [(sku, q) for sku, q in lines if q > 0]
    if not lines:
        raise Invalid("every line is 0: nothing to order", field="quantities")
    return lines


def mark_placed(session: Session, *, draft_id: uuid.UUID, order_id: str, actor: str, now: datetime) -> None:
    d = session.get(ReplenishmentDraft, draft_id, with_for_update=True)
    if d.status == "draft":
        d.status, d.order_id, d.placed_at, d.placed_by = "placed", uuid.UUID(order_id), now, actor
        session.execute(update(InventoryAdvice).where(InventoryAdvice.draft_id == draft_id)
                        .values(status="ordered"))


def dismiss(session: Session, d: ReplenishmentDraft) -> None:
    if d.status != "draft":
        raise Conflict(f"this draft is {d.status}")
    d.status = "dismissed"
    session.execute(update(InventoryAdvice).where(InventoryAdvice.draft_id == d.id).values(status="dismissed"))


def set_opt_in(session: Session, *, dealer_id: int, on: bool, actor: str) -> None:
    if on:
        session.execute(insert(ReplenishmentOptIn).values(dealer_id=dealer_id, updated_by=actor)
                        .on_conflict_do_nothing(index_elements=["dealer_id"]))
    else:
        session.query(ReplenishmentOptIn).filter(ReplenishmentOptIn.dealer_id == dealer_id).delete()


def opted_in(session: Session, dealer_id: int) -> bool:
    return session.get(ReplenishmentOptIn, dealer_id) is not None


def set_safety_stock(session: Session, *, dealer_id: int, sku: str, quantity: int, actor: str) -> int:
    """A dealer's own safety stock for a sku, within the rule file's limit (days of its demand, or
    units when it has none); 0 removes it. Returns the limit that applied."""
    from dealerflow.inventory.advice import ruleset
    from dealerflow.models import InventoryHealth, InventorySetting

    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise Invalid(f"unknown SKU {sku!r}", field="sku")
    if quantity < 0:
        raise Invalid("must not be negative", field="safety_stock")
    _, spec = ruleset(session)
    demand = session.scalar(select(InventoryHealth.daily_demand).where(
        InventoryHealth.dealer_id == dealer_id, InventoryHealth.product_id == product.id)
        .order_by(InventoryHealth.day.desc()).limit(1))
    limit = spec.safety_limit(demand or 0)
    if quantity > limit:
        raise Invalid(f"at most {limit} units for {sku}: the rule file allows {spec.safety_max_days} days of its"
                      f" demand ({demand or 0} a day), or {spec.safety_max_units} units without demand",
                      field="safety_stock")
    if quantity == 0:
        session.query(InventorySetting).filter(InventorySetting.dealer_id == dealer_id,
                                               InventorySetting.product_id == product.id).delete()
    else:
        stmt = insert(InventorySetting).values(dealer_id=dealer_id, product_id=product.id, safety_stock=quantity,
                                               updated_by=actor)
        session.execute(stmt.on_conflict_do_update(index_elements=["dealer_id", "product_id"], set_={
            "safety_stock": quantity, "updated_by": actor, "updated_at": text("now()")}))
    return limit
