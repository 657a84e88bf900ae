"""An order's way through its credit decision and review."""
from __future__ import annotations

from dataclasses import dataclass

from datetime import datetime

from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes

from .search import DEALER_ID, ORDER_ID, REGION, STAGE
from .tasks import TaskResult


@dataclass
class OrderLineInput:
    sku: str
    quantity: int


@dataclass
class PlaceOrderInput:
    order_id: str
    dealer_id: int
    lines: list[OrderLineInput]
    actor: str
    user_id: int | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None  # sha256 of the request an Idempotency-Key was sent with


@dataclass
class CreditDecision:
    order_id: str
    status: str  # approved | pending_review | rejected
    decision: str  # approve | review | reject
    ruleset: str
    version: int
    rule: str
    reason: str
    amount: str  # decimal string: exact, and readable in the Temporal UI
    dealer_code: str
    # Who reviews, should the rules send the order to a person.
    review_role: str
    review_sla_seconds: int
    escalate_to: str | None = None
    # The task a review opens: the credit review, or the stock review when the allocation rules
    # ask for a person (stock short, credit approved).
    review_kind: str = "order_credit_review"
    allocation: str | None = None  # backorder | partial | review | reject: stock was short
    allocation_reason: str | None = None


@dataclass
class OrderStart:
    """What an order's workflow starts with: the decision stored with the order. The API starts it
    after the order's commit; the order sweep starts any it could not."""
    order_id: str
    dealer_id: int
    region: str
    decision: CreditDecision


@dataclass
class OrderSweepInput:
    now: datetime | None = None


@dataclass
class OrderSweepResult:
    starts: list[OrderStart]


@dataclass
class ReviewOutcomeInput:
    order_id: str
    task: TaskResult


@dataclass
class OrderResult:
    order_id: str
    status: str


def workflow_id_for(order_id: str) -> str:
    return f"order-{order_id}"


def order_search_attributes(start: OrderStart) -> TypedSearchAttributes:
    """How HQ finds an order in the Temporal UI: dealer, region, order id and stage."""
    return TypedSearchAttributes([Pair(DEALER_ID, start.decision.dealer_code), Pair(REGION, start.region),
                                  Pair(ORDER_ID, start.order_id), Pair(STAGE, start.decision.status)])
