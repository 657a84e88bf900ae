"""Shapes of shipments in parcels, tracks, receipts and tracking pushes."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Strict

Waybill = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                           pattern=r"^[A-Za-z0-9_-]+$")]
Carrier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                                           pattern=r"^[A-Za-z0-9_-]+$")]


class ShipmentCreate(Strict):
    carrier: Carrier = Field(description="the carrier's code at the aggregator: SF, YTO, ZTO, JD…")
    waybills: list[Waybill] = Field(min_length=1, max_length=50, description="one per parcel")
    provider: Carrier = Field("kdniao", description="the tracking provider the waybills are subscribed with")
    shipped_at: datetime | None = Field(None, description="default now; the order's shipment when it is its first")


class TrackEventRead(BaseModel):
    at: datetime
    state: str
    text: str
    place: str


class ReportRead(BaseModel):
    id: str
    kind: str
    note: str
    photos: int
    reported_by: str
    reported_at: datetime
    task_id: str
    outcome: str | None = None
    resolved_by: str | None = None
    resolution: str | None = None


class ParcelRead(BaseModel):
    id: str
    order_id: str
    dealer_code: str
    provider: str
    carrier: str
    waybill: str
    state: str
    shipped_at: datetime
    last_event_at: datetime | None = None
    signed_at: datetime | None = None
    signed_place: str | None = None
    receipt: str
    received_at: datetime | None = None
    received_by: str | None = None
    auto_confirmed: bool = False
    events: list[TrackEventRead] = []
    reports: list[ReportRead] = []


class PushAck(BaseModel):
    """What the aggregator expects back (快递鸟: Success, Reason, UpdateTime), with what was stored."""
    Success: bool
    Reason: str = ""
    UpdateTime: str
    tracks: int = 0
    events: int = 0
    new: int = 0
    unmatched: list[str] = []


class UnmatchedRead(BaseModel):
    provider: str
    carrier: str
    waybill: str
    pushes: int
    events: int
    first_seen: datetime
    last_seen: datetime
