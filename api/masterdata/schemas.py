"""Request and response shapes of master data: dealers, products, users, regions, their audit and
imports. Money travels as decimal strings."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Code, MoneyIn, MoneyOut, Strict

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Tier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=32,
                                         pattern=r"^\+?[0-9][0-9 -]{4,30}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_]*$"),
                Field(description="lower case letters, digits and underscores, as rule files test them: "
                                  "window_specialist")]
Channel = Literal["retail", "wholesale", "engineering", "ecommerce"]
Status = Literal["active", "suspended", "ended"]
Rating = Literal["A", "B", "C", "D"]
Role = Literal["admin", "hq", "credit_manager", "account_manager", "region_manager", "finance", "dealer"]
Days = Annotated[int, Field(ge=0, le=3650)]
Overdue = Annotated[int, Field(ge=0, le=100_000)]
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]


class DealerCreate(Strict):
    code: Code
    name: Name
    legal_name: Name | None = None
    region: RegionCode
    province: Short | None = None
    city: Short | None = None
    channel: Channel = "retail"
    tags: Annotated[list[Tag], Field(max_length=30)] = []
    tier: Tier = "normal"
    level: Literal[1, 2] = 1
    parent_code: Code | None = None
    credit_limit: MoneyIn = Decimal("0")
    outstanding: MoneyIn = Decimal("0")
    rating: Rating = "C"
    overdue_days: Overdue = 0
    account_manager: Username | None = None
    contact_name: Person | None = None
    contact_phone: Phone | None = None
    contact_birthday: Day | None = None
    cooperation_since: Annotated[Day | None, Field(description="the cooperation start (合作起始日): rebate "
                                                   "anniversaries and dealer.years count from it; default today")] = None
    payment_terms_days: Days = 30
    status: Status = "active"


class DealerUpdate(Strict):
    """The fields to change (any of them; an absent field is kept). The nullable ones may be null (none).
    A credit limit raised above the credit rule file's `limit_change_needs_approval_over` waits for a
    second person's approval (`pending_credit_limit` in the answer)."""
    name: Name = None
    legal_name: Name | None = None
    region: RegionCode = None
    province: Short | None = None
    city: Short | None = None
    channel: Channel = None
    tags: Annotated[list[Tag], Field(max_length=30)] = None
    tier: Tier = None
    level: Literal[1, 2] = None
    parent_code: Code | None = None
    credit_limit: MoneyIn = None
    outstanding: MoneyIn = None
    rating: Rating = None
    overdue_days: Overdue = None
    account_manager: Username | None = None
    contact_name: Person | None = None
    contact_phone: Phone | None = None
    contact_birthday: Day | None = None
    cooperation_since: Day = None
    payment_terms_days: Days = None
    status: Status = None


class PendingLimit(BaseModel):
    id: str
    credit_limit: MoneyOut
    requested_by: str


class DealerRead(BaseModel):
    code: str
    name: str
    legal_name: str | None = None
    region: str
    province: str | None = None
    city: str | None = None
    channel: str
    tags: list[str] = []
    tier: str
    level: int
    parent_code: str | None = None
    credit_limit: MoneyOut
    outstanding: MoneyOut
    rating: str
    overdue_days: int
    account_manager: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_birthday: date | None = None
    cooperation_since: date
    payment_terms_days: int
    status: str
    pending_credit_limit: PendingLimit | None = None


class DealerDeactivate(Strict):
    status: Literal["suspended", "ended"] = "ended"


class ProductCreate(Strict):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                          pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Name
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "other"
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)] = "件"
    pack_size: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit_price: MoneyIn
    guide_price: Annotated[MoneyIn | None, Field(description="retail guide price (指导价): scans reporting a price "
                                                            "far under it raise price alerts")] = None
    active: bool = True


class ProductUpdate(Strict):
    """The fields to change; `guide_price` may be null (none)."""
    name: Name = None
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)] = None
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)] = None
    pack_size: Annotated[int, Field(ge=1, le=1_000_000)] = None
    unit_price: MoneyIn = None
    guide_price: MoneyIn | None = None
    active: bool = None


class ProductRead(BaseModel):
    sku: str
    name: str
    category: str
    unit: str
    pack_size: int
    unit_price: MoneyOut
    guide_price: MoneyOut | None = None
    active: bool


class UserCreate(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64,
                                               pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, Field(max_length=128, description="at least 10 characters, at most 72 bytes in UTF-8; "
                                   "not digits only, not a common password, not the username")]
    role: Role
    dealer_code: Code | None = None
    region: Annotated[RegionCode | None, Field(description="the region a region_manager sees")] = None
    display_name: Person | None = None
    phone: Phone | None = None


class UserUpdate(Strict):
    """The fields to change. A role change ends the user's tokens; `active: false` deactivates."""
    role: Role = None
    dealer_code: Code | None = None
    region: RegionCode | None = None
    display_name: Person | None = None
    phone: Phone | None = None
    active: bool = None


class PasswordReset(Strict):
    password: Annotated[str, Field(max_length=128, description="the new password (the password policy applies)")]


class UserDetail(BaseModel):
    """A user as master data keeps it."""
    username: str
    role: str
    dealer_code: str | None
    region: str | None = None
    display_name: str | None = None
    phone: str | None = None
    active: bool = True


class RegionCreate(Strict):
    code: RegionCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    account_managers: Annotated[list[Username], Field(max_length=100)] = []


class RegionUpdate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = None
    account_managers: Annotated[list[Username], Field(max_length=100)] = None


class RegionRead(BaseModel):
    code: str
    name: str
    dealers: int
    account_managers: list[str]
    listed: bool
    version: str | None = Field(None, description="the region's ETag: send it as If-Match with a change "
                                                  "(none for a region only dealers name)")


class AuditRead(BaseModel):
    field: str
    before: str | None
    after: str | None
    actor: str
    via: str
    note: str | None
    at: datetime


class RowChangeRead(BaseModel):
    line: int
    key: str
    action: Literal["created", "updated", "unchanged"]
    fields: list[str]


class ImportResult(BaseModel):
    kind: str
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    changes: list[RowChangeRead]
