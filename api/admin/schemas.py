"""Request and response shapes of master data, users and rule files."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from pydantic import BaseModel, Field, StringConstraints
from api.schemas import Code, MoneyIn, MoneyOut, Strict


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


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Tier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class DealerUpdate(Strict):
    """The fields to change (any of them; an absent field is kept). `parent_code` and `account_manager`
    may be null (none)."""
    name: Name = None
    region: Region = None
    tier: Tier = None
    level: Literal[1, 2] = None
    parent_code: Code | None = None
    credit_limit: MoneyIn = None
    outstanding: MoneyIn = None
    rating: Literal["A", "B", "C", "D"] = None
    overdue_days: Annotated[int, Field(ge=0, le=100_000)] = None
    account_manager: Username | None = None


class DealerRead(BaseModel):
    code: str
    name: str
    region: str
    tier: str
    level: int
    credit_limit: MoneyOut
    outstanding: Annotated[MoneyOut, Field(description="receivables as of the last credit scoring run (a cache for"
                                                        " lists: the credit decision reads the ledger live)")]
    rating: str
    overdue_days: Annotated[int, Field(description="overdue days as of the last credit scoring run (a cache: the"
                                                   " credit decision reads the ledger live)")]
    account_manager: str | None = None


class ProductCreate(Strict):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                          pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "other"
    unit_price: MoneyIn
    guide_price: Annotated[MoneyIn | None, Field(description="retail guide price (指导价): scans reporting a price "
                                                            "far under it raise price alerts")] = None


class ProductUpdate(Strict):
    """The fields to change; `guide_price` may be null (none)."""
    name: Name = None
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)] = None
    unit_price: MoneyIn = None
    guide_price: MoneyIn | None = None


class ProductRead(BaseModel):
    sku: str
    name: str
    category: str
    unit_price: MoneyOut
    guide_price: MoneyOut | None = None


class UserCreate(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64,
                                               pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, Field(max_length=128, description="at least 10 characters, at most 72 bytes in UTF-8; "
                                   "not digits only, not a common password, not the username")]
    role: Literal["admin", "hq", "credit_manager", "account_manager", "region_manager", "finance", "dealer"]
    dealer_code: Code | None = None
    region: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                      Field(description="the region a region_manager sees")] = None


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


class RuleValidation(BaseModel):
    ruleset: str
    valid: bool
    rules: int
    tests: int
