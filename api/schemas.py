"""Shapes every domain's requests and responses share. Money travels as decimal strings, never floats."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, model_serializer


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


class Out(BaseModel):
    """A response read from the domain's dicts: the fields it declares are documented and checked; the
    JSON is the dict's own, key for key (times in ISO 8601 with their offset, as `datetime.isoformat` writes them)."""
    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _as_json(self, handler, info):
        if info.mode_is_json():
            return jsonable_encoder({**{k: getattr(self, k) for k in type(self).model_fields if k in self.model_fields_set},
                                     **(self.__pydantic_extra__ or {})})
        return handler(self)


# Integers the database stores as bigint; a larger one is refused at the edge (422), never sent to it.
BIGINT = 2**63 - 1
