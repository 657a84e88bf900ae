"""Request and response shapes of orders, fulfilment, returns and payments."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from pydantic import BaseModel, Field, StringConstraints
from api.schemas import Loose, LooseRow, MoneyOut, Strict


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
    reason_zh: str | None = None  # the explanation led by the rule's reason in Chinese, when the file gives both


class OrderSummary(BaseModel):
    id: str
    dealer_code: str
    status: str
    amount: MoneyOut
    created_at: datetime
    rule: str | None  # the credit rule that decided it
    reviewed_by: str | None = None  # the person who completed the review, when the rule asked for one
    review_outcome: str | None = None


class AllocationLineRead(BaseModel):
    line_no: int
    sku: str
    warehouse: str | None  # None: waiting for stock
    quantity: int
    status: str  # reserved | backordered | released | consumed
    priority: int


class AllocationRead(BaseModel):
    """The order's stock: units reserved per warehouse and units waiting, and — when stock was short —
    the allocation rules' decision (backorder, partial, review or reject) with its explanation."""
    reserved: int
    backordered: int
    lines: list[AllocationLineRead]
    decision: DecisionRead | None = None


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
    allocation: AllocationRead | None = None  # None: no SKU of the order is stock-managed


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


# --- order history from the ERP ---------------------------------------------------------------------

class HistoryLineIn(LooseRow):
    sku: Loose = None
    quantity: Annotated[Loose, Field(description="units, a whole number from 1")] = None
    unit_price: Annotated[Loose, Field(description="decimal string; default the product's price")] = None


class HistoryOrderIn(LooseRow):
    order_ref: Annotated[Loose, Field(description="the order's number in the ERP, unique")] = None
    dealer: Annotated[Loose, Field(description="dealer code")] = None
    status: Annotated[Loose, Field(description="approved, shipped, delivered, completed, cancelled or rejected")] = None
    placed_at: Annotated[Loose, Field(description="ISO 8601 time with offset, or a date (China)")] = None
    shipped_at: Loose = None
    delivered_at: Loose = None
    lines: Annotated[list[HistoryLineIn], Field(max_length=1000)] = []


class HistoryReturnIn(LooseRow):
    reference: Annotated[Loose, Field(description="the return's number in the ERP, unique")] = None
    order_ref: Loose = None
    sku: Loose = None
    quantity: Loose = None
    returned_at: Loose = None
    reason: Loose = None


class HistoryPaymentIn(LooseRow):
    reference: Annotated[Loose, Field(description="bank or ERP reference, unique")] = None
    amount: Annotated[Loose, Field(description="decimal string, e.g. \"1250.00\"")] = None
    paid_at: Loose = None
    order_ref: Annotated[Loose, Field(description="the ERP order paid (optional)")] = None
    dealer: Annotated[Loose, Field(description="dealer code; required without order_ref")] = None
    method: Loose = None


class HistoryBody(BaseModel):
    orders: Annotated[list[HistoryOrderIn], Field(max_length=100_000)] = []
    returns: Annotated[list[HistoryReturnIn], Field(max_length=100_000)] = []
    payments: Annotated[list[HistoryPaymentIn], Field(max_length=100_000)] = []


class HistoryResult(BaseModel):
    import_id: int
    dry_run: bool
    rows: int
    orders: int  # new (or, in a dry run, that would be new)
    lines: int
    returns: int
    payments: int
    already: dict[str, int]  # orders, returns, payments already there: left as they were


class HistoryImportRead(BaseModel):
    id: int
    filename: str
    actor: str
    dry_run: bool
    state: str
    rows: int
    counts: dict
    problems: list[dict]
    started_at: datetime
    finished_at: datetime | None
