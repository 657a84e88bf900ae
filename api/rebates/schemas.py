"""Request shapes of settlement runs and statements."""
from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from api.schemas import Strict


class SettlementCreate(Strict):
    program: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
    period: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    upto: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=16)] = None


class DisputeCreate(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
