"""Request and response shapes of channel inventory. Quantities are checked by the service (a
negative one is named with its row), so they are plain integers here."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Code, MoneyOut, Strict

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MAX_JSON_ROWS = 10_000
Qty = Annotated[int, Field(ge=-(2 ** 31), le=2 ** 31 - 1, strict=True)]


class StockRowIn(Strict):
    dealer: Code | None = Field(None, description="the dealer's code: staff only; a dealer reports its own")
    sku: Sku
    day: date = Field(description="the business day (China) the stock was counted; not in the future")
    on_hand: Qty
    in_transit: Qty | None = None
    reported_at: datetime | None = Field(None, description="when the count was made (default now); a report"
                                                           " made before the day's current one is stale")


class StockReportIn(Strict):
    rows: Annotated[list[StockRowIn], Field(min_length=1, max_length=MAX_JSON_ROWS)]


class SaleRowIn(Strict):
    dealer: Code | None = None
    sku: Sku
    day: date
    quantity: Qty


class SellThroughIn(Strict):
    rows: Annotated[list[SaleRowIn], Field(min_length=1, max_length=MAX_JSON_ROWS)]


class Recorded(BaseModel):
    rows: int
    recorded: int
    unchanged: int


class HealthRead(BaseModel):
    day: date
    dealer_code: str
    dealer_name: str
    region: str
    sku: str
    product: str
    on_hand: int
    in_transit: int
    source: str = Field(description="reported, or estimated from the last report plus movements since")
    report_day: date | None
    report_age_days: int | None
    sold: int
    daily_sales: str
    daily_demand: str
    demand_source: str
    turnover_days: str | None
    cover_days: str | None
    sell_through_rate: str | None
    stock_value: MoneyOut
    slow_value: MoneyOut
    stock_age_days: int | None
    orders_by_month: list[int]
    advice: list[str]


class AdviceRead(BaseModel):
    id: int
    day: date
    dealer_code: str
    dealer_name: str
    sku: str
    product: str
    action: str
    severity: str
    quantity: int | None
    status: str
    reason: str
    explanation: dict


class DraftLine(BaseModel):
    sku: str
    quantity: int
    advice_id: int | None = None


class DraftRead(BaseModel):
    id: str
    dealer_code: str
    day: date
    automatic: bool
    status: str
    lines: list[DraftLine]
    order_id: str | None
    placed_at: datetime | None


class DraftCreate(Strict):
    day: date | None = Field(None, description="the day of the reorder advice (default: the latest)")


class DraftPlace(Strict):
    quantities: dict[Sku, Annotated[int, Field(ge=0, le=1_000_000, strict=True)]] | None = Field(
        None, description="changed quantities per sku; 0 leaves a line out")


class SafetyStockIn(Strict):
    sku: Sku
    safety_stock: Annotated[int, Field(ge=0, le=10_000_000, strict=True)]


class SafetyStockRead(BaseModel):
    sku: str
    safety_stock: int
    limit: int


class AutoReplenishIn(Strict):
    enabled: bool


class AutoReplenishRead(BaseModel):
    enabled: bool


class RunIn(Strict):
    day: date | None = Field(None, description="default: yesterday (China)")
    region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] | None = None


class RunStarted(BaseModel):
    day: date
    scope: str
    workflow_id: str
    action: str


class ForecastRead(BaseModel):
    scope: str
    region: str
    dealer_code: str | None
    sku: str
    fitted_on: date
    model: str
    intermittent: bool
    horizon_days: int
    quantity: str
    mase: str | None
    baseline_mase: str | None
    actual: str | None


class ClearanceDraftIn(Strict):
    sku: Sku
    day: date | None = Field(None, description="the day of the clearance advice (default: the latest)")


class ClearanceDraftRead(BaseModel):
    ruleset: str
    filename: str = Field(description="deploy the text under this name (POST /api/v1/rules/deploy)")
    dealers: list[str]
    text: str = Field(description="the policy rule file, validated, with its tests")
