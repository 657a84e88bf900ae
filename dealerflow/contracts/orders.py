"""An order's way through its credit decision and review."""
from __future__ import annotations

from dataclasses import dataclass

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
