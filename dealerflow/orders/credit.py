"""Orders and their credit decision. The decision and the order's move to its status happen in
one transaction holding the dealer's row lock, so concurrent orders cannot share the same headroom;
the order's stock is reserved in the same transaction (dealerflow.stock.allocation), under its SKUs'
stock row locks, so concurrent orders cannot share the same units either."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal

from dealerflow.core.errors import Conflict, Invalid
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import parse_duration

from dealerflow.credit import ledger_figures
from dealerflow.masterdata import dealers as masterdata
from dealerflow.shared import accounts, credit_points, rulebook
from dealerflow.tiering import runs as tiering
from dealerflow.contracts import CreditDecision, OrderStart, PlaceOrderInput, TaskResult
from dealerflow.models import Decision, Dealer, Order, OrderEvent, PendingOrderStart, Product
from dealerflow.stock import allocation

CREDIT_RULESET = "credit_approval"
ORDER_NAMESPACE = uuid.UUID("5b0c4f52-8d8e-4c53-9a53-0f4f6c1d2e71")
STATUS_FOR_DECISION = {"approve": "approved", "review": "pending_review", "reject": "rejected"}
# Orders that hold credit before their delivery is on the ledger: approved, not yet delivered or cancelled.
HOLDS_CREDIT = ("approved", "shipped")
# Orders that hold stock (reserved, or waiting for it) until they ship, are cancelled or rejected.
HOLDS_STOCK = ("approved", "pending_review")
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


# Statements read on every order, built once: building one costs more CPU than running it.
_PRODUCTS = select(Product).where(Product.sku.in_(bindparam("skus", expanding=True)))
_LOCK_DEALER = select(Dealer).where(Dealer.id == bindparam("dealer_id")).with_for_update()


def price_lines(session: Session, lines) -> list[PricedLine]:
    """Resolve SKUs to catalogue prices in one query; raises OrderInputError naming the line."""
    skus = sorted({line.sku for line in lines})
    products = {p.sku: p for p in session.scalars(_PRODUCTS, {"skus": skus})}
    priced = []
    for i, line in enumerate(lines):
        product = products.get(line.sku)
        if product is None:
            raise OrderInputError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}")
        if not product.active:
            raise OrderInputError(f"lines[{i}].sku", f"{line.sku!r} is no longer sold")
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


def _held(dealer_id):
    """Every order of the dealer approved and not yet delivered: a scalar SQL expression."""
    return select(func.coalesce(func.sum(Order.amount), 0)).where(
        Order.dealer_id == dealer_id, Order.status.in_(HOLDS_CREDIT)).scalar_subquery()


def credit_exposure(session: Session, dealer: Dealer, owed: ledger_figures.Exposure) -> Decimal:
    """Receivables on the ledger plus every order approved and not yet delivered."""
    return max(owed.receivables, Decimal("0.00")) + Decimal(session.scalar(select(_held(dealer.id))))


def owed_today(session: Session, dealer: Dealer) -> ledger_figures.Exposure:
    """Receivables and overdue days read live from the dealer's ledger and payment terms."""
    return ledger_figures.live(session, dealer_id=dealer.id, terms_days=dealer.payment_terms_days,
                               on=accounts.business_date(datetime.now(timezone.utc)))


_HELD_AND_POINTS = select(_held(bindparam("dealer_id")), credit_points.balance_of(bindparam("dealer_id")))


def credit_facts(dealer: Dealer, exposure: Decimal, amount: Decimal, points: int, overdue_days: int) -> dict:
    return {
        "dealer.rating": dealer.rating,
        "dealer.overdue_days": overdue_days,
        "dealer.credit_limit": dealer.credit_limit,
        "dealer.outstanding": exposure,
        "dealer.credit_points": points,
        "order.amount": amount,
    }


@dataclass(frozen=True)
class Written:
    """What placing an order wrote, as written (times from the database): the API answers from it
    without reading the order back."""
    created_at: datetime
    dealer_code: str
    status: str
    amount: Decimal
    lines: list[PricedLine]
    events: list[tuple]  # (at, status, actor, note)
    credit: dict  # the credit decision's row
    allocation: dict | None  # the allocation decision's row, when stock was short
    allocations: list[dict]  # the allocation rows (line_no, sku, warehouse, quantity, status, priority)


@dataclass(frozen=True)
class Placed:
    decision: CreditDecision
    created: bool  # False: the order was there already (a retry, or a resubmitted Idempotency-Key)
    written: Written | None = None


def place(session: Session, inp: PlaceOrderInput, workflow_id: str, *, optimistic: bool = False) -> Placed:
    """Create the order and take its decisions, once, in the caller's transaction: credit (under the
    dealer's row lock) and stock (under its SKUs' stock row locks: reserved now, or as the allocation
    rules say when short), and queue the start of its workflow (the outbox the order sweep reads).
    Safe to retry with an Idempotency-Key: an order already there answers with its stored decision
    (an order without one has a new id, `order_id_for`). The order is written once, with the status
    its decisions give it.

    `optimistic`: the stock is read first and locked last, just before the reservation, so orders of
    one SKU hold its stock rows only from there to the commit; should the stock have changed in a way
    that changes the decision, allocation.StaleStock is raised and the caller places the order again
    in a new transaction without it."""
    order_id = uuid.UUID(inp.order_id)
    # The dealer row lock serializes every credit decision of one dealer.
    dealer = session.scalars(_LOCK_DEALER, {"dealer_id": inp.dealer_id}).one()
    masterdata.check_status(dealer.code, dealer.status)  # 409: a suspended or ended dealer orders nothing
    # Without an Idempotency-Key the id is new (uuid4): only a keyed order can be there already.
    amount = session.scalar(select(Order.amount).where(Order.id == order_id)) if inp.idempotency_key else None
    if amount is not None:  # a retry after the order was written: its decisions are stored too
        return Placed(stored_decision(session, order_id), created=False)

    lines = price_lines(session, inp.lines)
    # Stock rows after the dealer's: one lock order everywhere.
    plan = allocation.lock(session, lines, for_update=not optimistic)
    allotted = allocation.decide(session, plan, dealer_id=dealer.id,
                                 amount=sum((line.amount for line in lines), Decimal("0")))
    if allotted is not None and allotted.action == "partial":
        kept = allocation.cut(plan, lines)
        if kept:
            lines = kept
        else:  # nothing of it is in stock
            allotted = replace(allotted, action="reject")
    amount = sum((line.amount for line in lines), Decimal("0"))

    # The order is not written yet, so the exposure is the dealer's other orders, as before.
    ruleset, shadows = rulebook.with_shadows(session, CREDIT_RULESET)
    owed = owed_today(session, dealer)
    # Read after the dealer's lock (a statement of its own: its snapshot sees every order committed
    # by whoever held the lock before), both in one round trip.
    held, points = session.execute(_HELD_AND_POINTS, {"dealer_id": dealer.id}).one()
    facts = credit_facts(dealer, max(owed.receivables, Decimal("0.00")) + Decimal(held), amount, points,
                         owed.overdue_days)
    decision = ruleset.decide(facts)
    explanation = decision.to_dict()
    answer = _credit_decision(order_id, amount, dealer, decision.outcome, explanation,
                              allotted.action if allotted else None,
                              allotted.outcome if allotted else None, allotted.explanation if allotted else None)
    note = f"{decision.ruleset} v{decision.version}: {decision.reason}"
    if allotted is not None:
        note += f"; stock short by {allotted.short_units}: {allotted.action}" + (
            f" ({allotted.explanation['ruleset']} v{allotted.explanation['version']}: "
            f"{allotted.explanation['reason']})" if allotted.explanation else "")

    # One statement writes the order, its lines, its history, its credit decision and its workflow
    # start (data-modifying CTEs: one round trip to the database instead of five). Every time stored
    # is the transaction's now(), so the order's creation time is each of them.
    events = [dict(order_id=order_id, status="submitted", actor=inp.actor, note="order placed"),
              dict(order_id=order_id, status=answer.status, actor="credit-rules", note=note)]
    # The context and any shadow version's outcome are kept for replays and the shadow dashboard.
    credit = dict(subject_type="order", subject_id=str(order_id), ruleset=decision.ruleset, version=decision.version,
                  rule=decision.rule, outcome=decision.outcome, explanation=explanation,
                  context={"region": dealer.region, "tier": dealer.tier, "dealer": dealer.code, "amount": f"{amount:.2f}"},
                  shadow=rulebook.shadow_outcomes(session, CREDIT_RULESET, facts, shadows) or None)
    created_at = session.scalar(_PLACE, dict(
        id=order_id, dealer_id=dealer.id, status=answer.status, amount=amount, key=inp.idempotency_key,
        fingerprint=inp.fingerprint, workflow_id=workflow_id, created_by=inp.user_id,
        line_nos=[l.line_no for l in lines], product_ids=[l.product_id for l in lines], skus=[l.sku for l in lines],
        quantities=[l.quantity for l in lines], prices=[l.unit_price for l in lines],
        amounts=[l.amount for l in lines], statuses=[e["status"] for e in events],
        actors=[e["actor"] for e in events], notes=[e["note"] for e in events], ruleset=decision.ruleset,
        version=decision.version, rule=decision.rule, outcome=decision.outcome, explanation=explanation,
        context=credit["context"], shadow=json.dumps(credit["shadow"]) if credit["shadow"] else None))
    credit["decided_at"] = created_at
    stock_decision = allocation.record(session, allotted, order_id=order_id, applied=allotted.action) \
        if allotted is not None else None
    tiering.record_activation(session, dealer_id=dealer.id, order_id=order_id)  # a silent dealer ordering again
    reserved = None
    if answer.status in HOLDS_STOCK:  # last: the stock rows stay locked until the commit
        if optimistic and plan.stock:  # none of its SKUs stock-managed when read: nothing to hold
            plan = allocation.check(session, plan, lines)
        reserved = allocation.reserve(session, plan, order_id=order_id, lines=lines,
                                      priority=allotted.priority if allotted else 0)
    written = Written(created_at, dealer.code, answer.status, amount, lines,
                      [(created_at, e["status"], e["actor"], e["note"]) for e in events], credit,
                      stock_decision, reserved.rows if reserved else [])
    return Placed(answer, created=True, written=written)


# Arrays, not a row of parameters per line: one statement (compiled once) whatever the lines.
_PLACE = text("""
    with placed as (
        insert into orders (id, dealer_id, status, amount, idempotency_key, request_fingerprint, workflow_id,
                            created_by)
        values (:id, :dealer_id, :status, :amount, :key, :fingerprint, :workflow_id, :created_by)
        returning created_at),
    placed_lines as (
        insert into order_lines (order_id, line_no, product_id, sku, quantity, unit_price, amount)
        select cast(:id as uuid), l.* from unnest(cast(:line_nos as int[]), cast(:product_ids as int[]), cast(:skus as varchar[]),
                                    cast(:quantities as int[]), cast(:prices as numeric[]),
                                    cast(:amounts as numeric[])) as l
        returning id),
    placed_events as (
        insert into order_events (order_id, status, actor, note)
        select cast(:id as uuid), e.status, e.actor, e.note
        from unnest(cast(:statuses as varchar[]), cast(:actors as varchar[]), cast(:notes as text[]))
             with ordinality as e(status, actor, note, n)
        order by e.n
        returning id),
    placed_decision as (
        insert into decisions (subject_type, subject_id, ruleset, version, rule, outcome, explanation, context,
                               shadow)
        values ('order', cast(:id as text), :ruleset, :version, :rule, :outcome, :explanation, :context,
                cast(:shadow as jsonb))
        returning id),
    queued as (
        insert into order_starts (order_id) values (:id) returning order_id)
    select created_at from placed""").bindparams(
    bindparam("id", type_=Order.__table__.c.id.type), bindparam("amount", type_=Order.__table__.c.amount.type),
    bindparam("outcome", type_=Decision.__table__.c.outcome.type),
    bindparam("explanation", type_=Decision.__table__.c.explanation.type),
    bindparam("context", type_=Decision.__table__.c.context.type))


def stored_decision(session: Session, order_id: uuid.UUID) -> CreditDecision:
    """An order's decision as it was taken, from what is stored: its credit and allocation decisions."""
    order = session.execute(select(Order.amount, Order.dealer_id).where(Order.id == order_id)).one()
    dealer = session.get(Dealer, order.dealer_id)
    stored = {d.subject_type: d for d in session.scalars(select(Decision).where(
        Decision.subject_id == str(order_id),
        ((Decision.subject_type == "order") & (Decision.ruleset == CREDIT_RULESET))
        | (Decision.subject_type == allocation.SUBJECT)))}
    credit, allotted = stored["order"], stored.get(allocation.SUBJECT)
    return _credit_decision(order_id, order.amount, dealer, credit.outcome, credit.explanation,
                            allocation.applied(allotted.outcome, allotted.explanation) if allotted else None,
                            allotted.outcome if allotted else None, allotted.explanation if allotted else None)


def order_start(session: Session, order_id: uuid.UUID) -> OrderStart:
    """What the order's workflow starts with."""
    answer = stored_decision(session, order_id)
    dealer = session.execute(select(Dealer.id, Dealer.region).join(Order, Order.dealer_id == Dealer.id)
                             .where(Order.id == order_id)).one()
    return OrderStart(str(order_id), dealer.id, dealer.region, answer)


_RELEASE = (delete(PendingOrderStart).where(PendingOrderStart.order_id.in_(bindparam("ids", expanding=True)))
            .execution_options(synchronize_session=False))


def started(session: Session, order_ids: list[uuid.UUID]) -> None:
    """Their workflows run: the outbox lets go of them."""
    if order_ids:
        session.execute(_RELEASE, {"ids": order_ids})


def unstarted(session: Session, *, queued_before, limit: int = 500) -> list[OrderStart]:
    """Orders committed whose workflow start was lost (the process died, Temporal was down)."""
    ids = session.scalars(select(PendingOrderStart.order_id).where(PendingOrderStart.queued_at < queued_before)
                          .order_by(PendingOrderStart.queued_at).limit(limit)).all()
    return [order_start(session, oid) for oid in ids]


def _credit_decision(order_id: uuid.UUID, amount: Decimal, dealer: Dealer, outcome: dict,
                     explanation: dict, action: str | None = None, stock_outcome: dict | None = None,
                     stock_explanation: dict | None = None) -> CreditDecision:
    """The order's answer: credit decides first (a rejection or a credit review wins); then stock,
    when it was short (a stock rejection, or a review by the allocation rules' role)."""
    status = STATUS_FOR_DECISION[outcome["decision"]]
    task, kind = {**DEFAULT_REVIEW, **(outcome.get("task") or {})}, "order_credit_review"
    if action == "reject":  # nothing to supply it from
        status = "rejected"
    elif status == "approved" and action == "review":
        status, task, kind = "pending_review", {**DEFAULT_REVIEW, **stock_outcome["task"]}, "order_stock_review"
    stock_reason = (stock_explanation or {}).get("reason") if action else None
    return CreditDecision(
        order_id=str(order_id), status=status,
        decision=outcome["decision"], ruleset=explanation["ruleset"], version=explanation["version"],
        rule=explanation["rule"], reason=explanation["reason"], amount=f"{amount:.2f}",
        dealer_code=dealer.code,
        review_role=task["role"], review_sla_seconds=int(parse_duration(task["sla"]).total_seconds()),
        escalate_to=task.get("escalate_to"), review_kind=kind, allocation=action,
        allocation_reason=stock_reason or ("stock short: no allocation rules deployed" if action else None))


def apply_review(session: Session, order_id: str, task: TaskResult) -> str:
    """A reviewer's outcome moves a pending order to approved or rejected (once)."""
    order = session.scalars(select(Order).where(Order.id == uuid.UUID(order_id)).with_for_update()).one()
    if order.status != "pending_review":
        return order.status
    status = {"approve": "approved", "reject": "rejected"}[task.outcome]
    note = f"review task {task.task_id}: {task.outcome}" + (f" — {task.comment}" if task.comment else "")
    _set_status(session, order.id, status, actor=task.actor, note=note)
    if status == "rejected":
        allocation.release(session, order.id)
    return status


def cancel(session: Session, order: Order, actor: str) -> None:
    """A dealer withdraws an approved order; its credit is released. Cancelled orders cannot be
    reopened: a new order goes through a new credit decision."""
    if order.status != "approved":
        raise OrderStateError(f"an order in status {order.status!r} cannot be cancelled")
    _set_status(session, order.id, "cancelled", actor=actor, note="cancelled by the dealer")
    allocation.release(session, order.id)
    order.status = "cancelled"


def _set_status(session: Session, order_id: uuid.UUID, status: str, *, actor: str, note: str) -> None:
    session.execute(update(Order).where(Order.id == order_id).values(status=status, updated_at=func.now()))
    _event(session, order_id, status, actor=actor, note=note)


def _event(session: Session, order_id: uuid.UUID, status: str, *, actor: str, note: str) -> None:
    session.execute(insert(OrderEvent).values(order_id=order_id, status=status, actor=actor, note=note))
