"""Shapes of dealer care: contacts, contact tasks, occasions, a day's run."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from api.schemas import Code, Strict


class ContactCreate(Strict):
    dealer: Code
    channel: Literal["visit", "phone", "wecom", "meeting"]
    note: Annotated[str, StringConstraints(max_length=2000)]


class ContactRead(BaseModel):
    id: int
    dealer_code: str
    by: str
    channel: str
    note: str
    at: datetime


class ContactDue(BaseModel):
    dealer_code: str
    dealer_name: str
    tier: str
    account_manager: str | None
    due_on: date
    days_overdue: int
    overdue: bool


class Occasion(BaseModel):
    dealer_code: str
    dealer_name: str
    contact_name: str | None
    occasion: Literal["birthday", "anniversary"]
    years: int | None
    points: int


class CareRunCreate(Strict):
    day: date | None = None


class CareRunRead(BaseModel):
    day: date
    greeted: int
    points: int
    told_eve: int
    contact_tasks: int


class CatalogueItemRead(BaseModel):
    code: str
    title: str
    points: int
    cash: str | None = None  # a cash rebate: the rebate program whose per-point value converts the points


class RedemptionCreate(Strict):
    item: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class RedemptionRead(BaseModel):
    id: str
    item: str
    title: str
    points: int
    status: Literal["requested", "fulfilled", "refused"]
    created_at: datetime
    decided_at: datetime | None
    note: str | None
    balance: int
