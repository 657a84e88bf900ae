"""Orders and their credit decision. The decision and the order's move to its status happen in
one transaction holding the dealer's row lock, so concurrent orders cannot share the same headroom."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

from dealerflow.core.errors import Conflict, Invalid
from sqlalchemy import func, null, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import parse_duration

from dealerflow.shared import credit_points, rulebook
from dealerflow.tiering import runs as tiering
from dealerflow.contracts import CreditDecision, PlaceOrderInput, TaskResult
from dealerflow.models import Decision, Dealer, Order, OrderEvent, OrderLine, Product

CREDIT_RULESET = "credit_approval"
ORDER_NAMESPACE = uuid.UUID("5b0c4f52-8d8e-4c53-9a53-0f4f6c1d2e71")
STATUS_FOR_DECISION = {"approve": "approved", "review": "pending_review", "reject": "rejected"}
# Orders that hold credit: approved and not yet paid in full (completed) or cancelled.
HOLDS_CREDIT = ("approved", "shipped", "delivered")
# Who reviews when a rule says `review` without naming a task.
DEFAULT_REVIEW = {"role": "credit_manager", "sla": "24h"}


MAX_QUANTITY = 1_000_000  # units on one line
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2): an order's amount and every line's


class OrderInputError(Invalid):
    """Bad order input, with the JSON path of the offending field (e.g. lines[1].sku)."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)
        self.field = field


class OrderStateError(Conflict):
    pass


def order_id_for(dealer_id: int, idempotency_key: str | None) -> uuid.UUID:
    """Same dealer and Idempotency-Key → same order id, so a resubmission finds the first order."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(ORDER_NAMESPACE, f"{dealer_id}:{idempotency_key}")


def request_fingerprint(body: dict) -> str:
    """The fingerprint an Idempotency-Key is bound to: sha256 of the canonical JSON of the request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_replay(session: Session, order_id: uuid.UUID, fingerprint: str | None) -> None:
    """A key sent again with another request is refused (422, as the IETF Idempotency-Key draft
    has it), not answered with the first order. Orders stored without a fingerprint pass."""
    stored = session.scalar(select(Order.request_fingerprint).where(Order.id == order_id))
    if fingerprint is not None and stored is not None and stored != fingerprint:
        raise Invalid("Idempotency-Key: this key was already used for a different request body",
                      errors=[{"field": "Idempotency-Key", "message": "already used for a different request body"}])



@dataclass(frozen=True)
class PricedLine:
    line_no: int
    product_id: int
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


def price_lines(session: Session, lines) -> list[PricedLine]:
    """Resolve SKUs to catalogue prices in one query; raises OrderInputError naming the line."""
    skus = {line.sku for line in lines}
    products = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
    priced = []
    for i, line in enumerate(lines):
        product = products.get(line.sku)
        if product is None:
            raise OrderInputError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}")
        if line.quantity <= 0:
            raise OrderInputError(f"lines[{i}].quantity", "must be greater than 0")
        if line.quantity > MAX_QUANTITY:
            raise OrderInputError(f"lines[{i}].quantity", f"at most {MAX_QUANTITY:,} units a line")
        priced.append(PricedLine(i + 1, product.id, product.sku, line.quantity, product.unit_price))
    total = sum((p.amount for p in priced), Decimal(0))
    if total > MAX_AMOUNT:  # the amount columns hold 12 digits before the point
        raise OrderInputError("lines", f"the order comes to {total:,.2f}, more than the {MAX_AMOUNT:,.2f} an order "
                                       "may amount to: split it")
    return priced


def credit_exposure(session: Session, dealer: Dealer) -> Decimal:
    """Receivables plus every order approved and not yet paid."""
    held = session.scalar(select(func.coalesce(func.sum(Order.amount), 0)).where(
        Order.dealer_id == dealer.id, Order.status.in_(HOLDS_CREDIT)))
    return dealer.outstanding + Decimal(held)


def credit_facts(dealer: Dealer, exposure: Decimal, amount: Decimal, points: int) -> dict:
    return {
        "dealer.rating": dealer.rating,
        "dealer.overdue_days": dealer.overdue_days,
        "dealer.credit_limit": dealer.credit_limit,
        "dealer.outstanding": exposure,
        "dealer.credit_points": points,
        "order.amount": amount,
    }


def place_and_decide(session: Session, inp: PlaceOrderInput, workflow_id: str) -> CreditDecision:
    """Create the order (once) and take its credit decision (once). Safe to retry."""
    order_id = uuid.UUID(inp.order_id)
    # The dealer row lock serializes every credit decision of one dealer.
    dealer = session.scalars(select(Dealer).where(Dealer.id == inp.dealer_id).with_for_update()).one()
    amount = session.scalar(select(Order.amount).where(Order.id == order_id))
    if amount is None:
        lines = price_lines(session, inp.lines)
        amount = sum((line.amount for line in lines), Decimal("0"))
        session.execute(insert(Order).values(
            id=order_id, dealer_id=dealer.id, status="submitted", amount=amount,
            idempotency_key=inp.idempotency_key, request_fingerprint=inp.fingerprint, workflow_id=workflow_id,
            created_by=inp.user_id))
        session.execute(insert(OrderLine), [
            dict(order_id=order_id, line_no=l.line_no, product_id=l.product_id, sku=l.sku,
                 quantity=l.quantity, unit_price=l.unit_price, amount=l.amount) for l in lines])
        _event(session, order_id, "submitted", actor=inp.actor, note="order placed")
        tiering.record_activation(session, dealer_id=dealer.id, order_id=order_id)  # a silent dealer ordering again
    else:  # a retry after the order was written: the decision may be stored too
        existing = session.scalars(select(Decision).where(
            Decision.subject_type == "order", Decision.subject_id == str(order_id),
            Decision.ruleset == CREDIT_RULESET)).first()
        if existing is not None:
            return _credit_decision(order_id, amount, dealer, existing.outcome, existing.explanation)

    ruleset = rulebook.active(session, CREDIT_RULESET)
    facts = credit_facts(dealer, credit_exposure(session, dealer), amount, credit_points.balance(session, dealer.id))
    decision = ruleset.decide(facts)
    explanation = decision.to_dict()
    session.execute(insert(Decision).values(
        subject_type="order", subject_id=str(order_id), ruleset=decision.ruleset, version=decision.version,
        rule=decision.rule, outcome=decision.outcome, explanation=explanation,
        context={"region": dealer.region, "tier": dealer.tier, "dealer": dealer.code, "amount": f"{amount:.2f}"},
        shadow=rulebook.shadow_outcomes(session, CREDIT_RULESET, facts) or null()))
    status = STATUS_FOR_DECISION[decision.outcome["decision"]]
    _set_status(session, order_id, status, actor="credit-rules",
                note=f"{decision.ruleset} v{decision.version}: {decision.reason}")
    return _credit_decision(order_id, amount, dealer, decision.outcome, explanation)


def _credit_decision(order_id: uuid.UUID, amount: Decimal, dealer: Dealer, outcome: dict,
                     explanation: dict) -> CreditDecision:
    task = {**DEFAULT_REVIEW, **(outcome.get("task") or {})}
    return CreditDecision(
        order_id=str(order_id), status=STATUS_FOR_DECISION[outcome["decision"]],
        decision=outcome["decision"], ruleset=explanation["ruleset"], version=explanation["version"],
        rule=explanation["rule"], reason=explanation["reason"], amount=f"{amount:.2f}",
        dealer_code=dealer.code,
        review_role=task["role"], review_sla_seconds=int(parse_duration(task["sla"]).total_seconds()),
        escalate_to=task.get("escalate_to"))


def apply_review(session: Session, order_id: str, task: TaskResult) -> str:
    """A reviewer's outcome moves a pending order to approved or rejected (once)."""
    order = session.scalars(select(Order).where(Order.id == uuid.UUID(order_id)).with_for_update()).one()
    if order.status != "pending_review":
        return order.status
    status = {"approve": "approved", "reject": "rejected"}[task.outcome]
    note = f"review task {task.task_id}: {task.outcome}" + (f" — {task.comment}" if task.comment else "")
    _set_status(session, order.id, status, actor=task.actor, note=note)
    return status


def cancel(session: Session, order: Order, actor: str) -> None:
    """A dealer withdraws an approved order; its credit is released. Cancelled orders cannot be
    reopened: a new order goes through a new credit decision."""
    if order.status != "approved":
        raise OrderStateError(f"an order in status {order.status!r} cannot be cancelled")
    _set_status(session, order.id, "cancelled", actor=actor, note="cancelled by the dealer")
    order.status = "cancelled"


def _set_status(session: Session, order_id: uuid.UUID, status: str, *, actor: str, note: str) -> None:
    session.execute(update(Order).where(Order.id == order_id).values(status=status, updated_at=func.now()))
    _event(session, order_id, status, actor=actor, note=note)


def _event(session: Session, order_id: uuid.UUID, status: str, *, actor: str, note: str) -> None:
    session.execute(insert(OrderEvent).values(order_id=order_id, status=status, actor=actor, note=note))
