"""Request and response shapes of warehouses and stock."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Loose, LooseRow, Strict


class WarehouseIn(Strict):
    code: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    region: Annotated[str | None, StringConstraints(max_length=64)] = None


class WarehouseRead(BaseModel):
    code: str
    name: str
    region: str | None


class StockRowIn(LooseRow):
    """One row as the ERP counts it; checked row by row like a CSV import (errors name the index)."""
    warehouse: Annotated[Loose, Field(description="warehouse code")] = None
    sku: Loose = None
    on_hand: Annotated[Loose, Field(description="units on hand, 0 or more")] = None


class StockAdjustIn(Strict):
    warehouse: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    delta: Annotated[int, Field(strict=True, ge=-10_000_000, le=10_000_000,
                                description="units found (positive) or lost (negative), not 0")]
    reason: Annotated[str, StringConstraints(max_length=128)] = ""


class StockRead(BaseModel):
    warehouse: str
    warehouse_name: str
    sku: str
    product_name: str
    on_hand: int
    reserved: int
    available: int
    backordered: int  # units of the SKU orders wait for (all warehouses)


class StockSetRead(BaseModel):
    rows: int
    changed: int
    filled: int  # units of waiting orders now reserved
