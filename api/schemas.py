"""Request and response shapes. Money travels as decimal strings, never floats."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
MoneyOut = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                                        pattern=r"^[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLineIn(Strict):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(gt=0, le=1_000_000, strict=True)]


class OrderCreate(Strict):
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=500)]


class OrderLineRead(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut


class OrderEventRead(BaseModel):
    at: datetime
    status: str
    actor: str
    note: str


class DecisionRead(BaseModel):
    ruleset: str
    version: int
    rule: str
    outcome: dict
    reason: str
    matched: list[dict]
    facts: dict
    decided_at: datetime | None = None


class OrderSummary(BaseModel):
    id: str
    dealer_code: str
    status: str
    amount: MoneyOut
    created_at: datetime
    rule: str | None  # the credit rule that decided it


class OrderRead(BaseModel):
    id: str
    dealer_code: str
    status: str
    amount: MoneyOut
    created_at: datetime
    lines: list[OrderLineRead]
    decision: DecisionRead | None
    history: list[OrderEventRead]
    review_task_id: str | None = None


class TaskRead(BaseModel):
    id: str
    kind: str
    title: str
    status: str
    subject_type: str
    subject_id: str
    assignee_role: str
    escalated_to_role: str | None
    outcomes: list[str]
    payload: dict
    due_at: datetime
    overdue: bool
    outcome: str | None
    comment: str | None
    completed_by: str | None
    completed_at: datetime | None
    history: list[dict] = []


class TaskComplete(Strict):
    outcome: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class DealerCreate(Strict):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    region: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    tier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] = "normal"
    level: Literal[1, 2] = 1
    parent_code: Code | None = None
    credit_limit: MoneyIn = Decimal("0")
    outstanding: MoneyIn = Decimal("0")
    rating: Literal["A", "B", "C", "D"] = "C"
    overdue_days: Annotated[int, Field(ge=0, le=100_000)] = 0
    account_manager: str | None = None


class DealerRead(BaseModel):
    code: str
    name: str
    region: str
    tier: str
    level: int
    credit_limit: MoneyOut
    outstanding: MoneyOut
    rating: str
    overdue_days: int


class ProductCreate(Strict):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                          pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "other"
    unit_price: MoneyIn
    guide_price: Annotated[MoneyIn | None, Field(description="retail guide price (指导价): scans reporting a price "
                                                            "far under it raise price alerts")] = None


class ProductRead(BaseModel):
    sku: str
    name: str
    category: str
    unit_price: MoneyOut
    guide_price: MoneyOut | None = None


class UserCreate(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64,
                                               pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, StringConstraints(min_length=8, max_length=128)]
    role: Literal["admin", "hq", "credit_manager", "dealer"]
    dealer_code: Code | None = None


class UserRead(BaseModel):
    username: str
    role: str
    dealer_code: str | None


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class RuleVersionRead(BaseModel):
    ruleset: str
    version: int
    kind: str
    sha256: str
    filename: str
    deployed_by: str
    deployed_at: datetime


class RuleDeployResult(BaseModel):
    ruleset: str
    version: int
    changed: bool


# --- fulfilment, returns and payments ---------------------------------------------------------------
# Batch rows take any scalar and are checked by dealerflow.fulfilment, row by row, with the same
# messages as a CSV import; an unknown field is reported there too, with its index.
Loose = str | int | float | None


class LooseRow(BaseModel):
    model_config = ConfigDict(extra="allow")


class FulfilmentAt(Strict):
    at: Annotated[str | None, Field(max_length=64, description="ISO 8601 time with offset, or a date (China); "
                                                               "default now")] = None


class ShipmentAt(FulfilmentAt):
    codes: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]] | None,
                     Field(max_length=100_000, description="the product codes leaving with the order: bound to "
                                                           "its dealer and the dealer's region")] = None


class ReturnIn(LooseRow):
    reference: Annotated[Loose, Field(description="the return's number in the ERP, unique")] = None
    order_id: Loose = None
    sku: Loose = None
    quantity: Annotated[Loose, Field(description="units returned")] = None
    returned_at: Annotated[Loose, Field(description="ISO 8601 time with offset, or a date (China)")] = None
    reason: Loose = None


class PaymentIn(LooseRow):
    reference: Annotated[Loose, Field(description="bank or ERP reference, unique")] = None
    amount: Annotated[Loose, Field(description="decimal string, e.g. \"1250.00\"")] = None
    paid_at: Annotated[Loose, Field(description="ISO 8601 time with offset, or a date (China)")] = None
    order_id: Annotated[Loose, Field(description="the order paid (optional)")] = None
    dealer: Annotated[Loose, Field(description="dealer code; required without order_id")] = None
    method: Annotated[Loose, Field(description="transfer (default), acceptance_bill, ...")] = None


class BatchResult(BaseModel):
    kind: str
    rows: int
    recorded: int
    unchanged: int
    completed: int  # orders now paid in full


class ReturnRead(BaseModel):
    reference: str
    dealer_code: str
    order_id: str
    sku: str
    quantity: int
    amount: MoneyOut
    returned_at: datetime
    reason: str
    recorded_by: str


class PaymentRead(BaseModel):
    reference: str
    dealer_code: str
    order_id: str | None
    amount: MoneyOut
    paid_at: datetime
    method: str
    recorded_by: str
