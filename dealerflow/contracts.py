"""Dataclasses that cross workflow and activity boundaries, and the search attributes HQ filters
on in the Temporal Web UI. Pure: imported by workflows inside the sandbox."""
from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.common import SearchAttributeKey

DEALER_ID = SearchAttributeKey.for_keyword("DealerId")
REGION = SearchAttributeKey.for_keyword("Region")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
STAGE = SearchAttributeKey.for_keyword("Stage")
TASK_ROLE = SearchAttributeKey.for_keyword("TaskRole")
SEARCH_ATTRIBUTES = (DEALER_ID, REGION, ORDER_ID, STAGE, TASK_ROLE)


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
class TaskSpec:
    """What a workflow asks of a person. Reused by every process that needs a human decision."""
    task_id: str
    kind: str
    title: str
    subject_type: str
    subject_id: str
    assignee_role: str
    outcomes: list[str]
    sla_seconds: int
    escalate_to: str | None = None
    dealer_id: int | None = None
    payload: dict = field(default_factory=dict)


@dataclass
class CompleteTaskInput:
    task_id: str
    outcome: str
    actor: str
    comment: str = ""


@dataclass
class TaskResult:
    task_id: str
    outcome: str
    actor: str
    comment: str = ""


@dataclass
class EscalationResult:
    """What the database says after an escalation: a completion recorded there wins."""
    escalated: bool
    completed: TaskResult | None = None


@dataclass
class ReviewOutcomeInput:
    order_id: str
    task: TaskResult


@dataclass
class OrderResult:
    order_id: str
    status: str
