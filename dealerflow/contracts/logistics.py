"""A parcel's way from the warehouse to the dealer's receipt, and the tracking poll."""
from __future__ import annotations

from dataclasses import dataclass, field

from .diversion import CaseStart
from .tasks import TaskResult, TaskSpec


@dataclass
class ShipmentInput:
    parcel_id: str
    order_id: str
    dealer_id: int
    dealer_code: str
    carrier: str
    waybill: str
    # After signing, the receipt confirms itself when the dealer has said nothing for this long.
    auto_confirm_seconds: int


@dataclass
class Tracked:
    """What the tracking ingest tells a parcel's workflow: its new state (signed, returned…)."""
    state: str
    at: str = ""  # ISO time of the event


@dataclass
class ReceiptInput:
    parcel_id: str
    actor: str  # the dealer's user, or "system" when the receipt confirms itself
    auto: bool = False


@dataclass
class ReceiptResult:
    parcel_id: str
    receipt: str  # confirmed | auto_confirmed | reported
    received_at: str
    delivered: bool = False  # the receipt recorded the order's delivery (the company's setting)


@dataclass
class ReportInput:
    """A dealer's damage or shortage report, with the task HQ answers."""
    report_id: str
    parcel_id: str
    actor: str
    task: TaskSpec


@dataclass
class ReportOutcomeInput:
    report_id: str
    parcel_id: str
    task: TaskResult


@dataclass
class ShipmentResult:
    parcel_id: str
    outcome: str  # received | auto_confirmed | resolved | returned


@dataclass
class PollInput:
    pass


@dataclass
class SignedParcel:
    workflow_id: str
    parcel_id: str
    state: str
    at: str


@dataclass
class PollResult:
    polled: int = 0
    events: int = 0
    tell: list[SignedParcel] = field(default_factory=list)  # workflows to tell of a signing or a return
    cases: list[CaseStart] = field(default_factory=list)  # diversion cases its alerts opened


@dataclass
class ToldInput:
    parcel_ids: list[str]


def workflow_id_for(parcel_id: str) -> str:
    return f"shipment-{parcel_id}"


POLL_WORKFLOW_ID = "tracking-poll"
