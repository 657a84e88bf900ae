"""Response shapes of the reports: dates as ISO strings, money as decimal strings ("1234.50"), growth
in percent and rates as decimal strings ("12.50", "0.3500"), null where there is nothing to compare."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, PlainSerializer

from api.schemas import MoneyOut

Pct = Annotated[Decimal | None, PlainSerializer(lambda d: None if d is None else f"{d:.2f}", return_type=str | None)]
Rate = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.4f}", return_type=str)]


class FiltersOut(BaseModel):
    period: str
    kind: Literal["month", "quarter", "year", "range"]
    current: dict[str, date]
    previous: dict[str, date]
    year_ago: dict[str, date]
    region: str | None
    category: str | None


class RegionSales(BaseModel):
    rank: int
    region: str
    net_amount: MoneyOut
    previous_amount: MoneyOut
    year_ago_amount: MoneyOut
    growth_vs_previous_pct: Pct
    growth_vs_year_ago_pct: Pct
    net_quantity: int


class SalesTotals(BaseModel):
    net_amount: MoneyOut
    previous_amount: MoneyOut
    year_ago_amount: MoneyOut
    growth_vs_previous_pct: Pct
    growth_vs_year_ago_pct: Pct
    net_quantity: int


class SalesByRegion(BaseModel):
    filters: FiltersOut
    rows: list[RegionSales]
    totals: SalesTotals


class ProductSales(BaseModel):
    sku: str
    name: str
    category: str
    net_amount: MoneyOut
    net_quantity: int
    rank_by_sales: int
    rank_by_sell_through: int


class TopProducts(BaseModel):
    filters: FiltersOut
    sell_through_measure: str
    sell_through_note: str
    by_sales: list[str]
    by_sell_through: list[str]
    rows: list[ProductSales]


class PolicyRegion(BaseModel):
    region: str
    group: Literal["pilot", "rest"]
    targeted: int
    delivered: int
    acknowledged: int
    acknowledgment_rate: Rate
    ordered_before: int
    conversion_before: Rate
    ordered_after: int
    conversion_after: Rate


class PolicyGroup(BaseModel):
    targeted: int
    delivered: int
    conversion_before: Rate
    conversion_after: Rate


class PolicyEffect(BaseModel):
    filters: FiltersOut
    policy_id: str
    version: int
    title: str
    status: str
    window: dict[str, datetime]
    groups: dict[str, PolicyGroup]
    rows: list[PolicyRegion]


class RoleTasks(BaseModel):
    role: str
    open: int
    overdue: int
    escalated: int
    completed: int
    completed_late: int


class TasksByRole(BaseModel):
    filters: FiltersOut
    as_of: datetime
    rows: list[RoleTasks]
    totals: dict[str, int]


class RunRow(BaseModel):
    id: str
    program: str
    period: str
    final: bool
    stage: str
    started_at: datetime
    closed_at: datetime | None
    statements: int
    issued: int
    confirmed: int
    disputed: int
    rebate: MoneyOut


class SettlementRuns(BaseModel):
    filters: FiltersOut
    by_stage: dict[str, int]
    rows: list[RunRow]


class CaseRegion(BaseModel):
    region: str
    cases: int
    open: int
    confirmed: int
    dismissed: int
    points: int


class DiversionCases(BaseModel):
    filters: FiltersOut
    rows: list[CaseRegion]
    totals: dict[str, int]


class TierRegion(BaseModel):
    region: str
    tier: str
    dealers: int


class TierMove(BaseModel):
    from_tier: str
    to_tier: str
    dealers: int


class Tiers(BaseModel):
    filters: FiltersOut
    run_month: str | None
    compared_with: str | None
    by_tier: dict[str, int]
    rows: list[TierRegion]
    movement: list[TierMove]
    changed: int


class SilentRegion(BaseModel):
    region: str
    silent: int
    flagged: int
    activated: int


class SilentDealers(BaseModel):
    filters: FiltersOut
    rows: list[SilentRegion]
    totals: dict[str, int]


class PolicyReach(BaseModel):
    id: str
    title: str
    status: str
    targeted: int
    delivered: int
    acknowledged: int
    acknowledgment_rate: Rate


class DashboardSales(BaseModel):
    totals: SalesTotals
    regions: list[RegionSales]


class DashboardProducts(BaseModel):
    sell_through_measure: str
    by_sales: list[ProductSales]
    by_sell_through: list[ProductSales]


class DashboardTasks(BaseModel):
    totals: dict[str, int]
    by_role: list[RoleTasks]


class DashboardSettlements(BaseModel):
    by_stage: dict[str, int]
    runs: list[RunRow]


class DashboardTiers(BaseModel):
    run_month: str | None
    by_tier: dict[str, int]
    changed: int


class StaffDashboard(BaseModel):
    view: Literal["staff"]
    filters: FiltersOut
    sales: DashboardSales
    top_products: DashboardProducts
    policies: list[PolicyReach]
    tasks: DashboardTasks
    settlements: DashboardSettlements
    diversion: dict[str, int]
    tiers: DashboardTiers
    silent: dict[str, int]


class DealerRef(BaseModel):
    code: str
    name: str
    region: str


class RegionRank(BaseModel):
    position: int
    of: int


class DealerDashboard(BaseModel):
    view: Literal["dealer"]
    filters: FiltersOut
    dealer: DealerRef
    net_amount: MoneyOut
    previous_amount: MoneyOut
    growth_vs_previous_pct: Pct
    region_rank: RegionRank
