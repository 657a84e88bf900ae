"""Shapes of people's notification preferences and of the dead letters."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import BIGINT, Strict


class Addresses(Strict):
    sms: Annotated[str, StringConstraints(max_length=64)] | None = None
    wecom_app: Annotated[str, StringConstraints(max_length=64)] | None = None


class Preference(Strict):
    kind: Annotated[str, StringConstraints(max_length=32)]
    channel: Annotated[str, StringConstraints(max_length=16)]
    enabled: bool


class PreferencesUpdate(Strict):
    """Replaces the person's addresses, preferences and quiet hours (Beijing time, "22:00"–"07:30")."""
    addresses: Addresses = Addresses()
    preferences: Annotated[list[Preference], Field(max_length=200)] = []
    quiet_start: Annotated[str, StringConstraints(max_length=5)] | None = None
    quiet_end: Annotated[str, StringConstraints(max_length=5)] | None = None


class PreferencesRead(BaseModel):
    username: str
    role: str
    phone: str | None
    addresses: dict[str, str | None]
    preferences: list[Preference]
    quiet_start: str | None
    quiet_end: str | None


class Attempt(BaseModel):
    at: datetime
    outcome: str
    error: str | None


class DeliveryRead(BaseModel):
    id: int
    notification_id: int
    kind: str
    title: str
    channel: str
    address: str
    user_id: int | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None
    history: list[Attempt] = []


class DeadLetters(BaseModel):
    total: int
    items: list[DeliveryRead]


class Resend(Strict):
    ids: Annotated[list[Annotated[int, Field(ge=1, le=BIGINT)]], Field(min_length=1, max_length=500)]


class Resent(BaseModel):
    resent: int
