"""Shapes every domain's requests and responses share. Money travels as decimal strings, never floats."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints


MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


MoneyOut = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]


Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                                        pattern=r"^[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- fulfilment, returns and payments ---------------------------------------------------------------
# Batch rows take any scalar and are checked by dealerflow.orders.fulfilment, row by row, with the same
# messages as a CSV import; an unknown field is reported there too, with its index.
Loose = str | int | float | None


class LooseRow(BaseModel):
    model_config = ConfigDict(extra="allow")
