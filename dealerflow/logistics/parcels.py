"""Shipments in parcels and the dealer's receipt.

A shipment names its carrier and one or more waybills; an approved order becomes shipped with its
first shipment (through the fulfilment service), a shipped one takes more parcels; nothing ships on
a cancelled, rejected or unapproved order. The dealer confirms each parcel's receipt, or reports it
damaged or short with photos (HQ answers a task); a signed parcel the dealer says nothing about
confirms itself after the configured days. Where the company chooses so, the receipt of the
order's last parcel records its delivery, which books it to the dealer's account."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.contracts import ReceiptResult, TaskResult, TaskSpec
from dealerflow.contracts.logistics import workflow_id_for
from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.logistics import tracking
from dealerflow.logistics.providers import check_carrier_waybill
from dealerflow.models import Dealer, Order, OrderEvent, Parcel, ParcelReport, TrackingEvent
from dealerflow.orders import fulfilment
from dealerflow.shared.evidence import StoredFile

MAX_PARCELS = 50  # waybills in one shipment
PROBLEM_KINDS = ("damage", "shortage")
MAX_NOTE = 2000
MAX_PHOTOS = 9
REPORT_ROLE, REPORT_SLA = "hq", 2 * 86400


@dataclass
class Recorded:
    order: Order
    parcels: list[Parcel]
    replayed: tracking.Ingested | None  # tracking that arrived before the parcels


def record_shipment(session: Session, *, order_id: uuid.UUID | None, carrier: str, waybills: list[str],
                    provider: str, actor: str, shipped_at: datetime | None = None, receipt_delivers: bool = False,
                    now: datetime | None = None) -> Recorded:
    """Parcels leaving for an order. Raises NotFound (no such order), Conflict (cancelled, rejected,
    not approved, delivered; a waybill already recorded) or Invalid (a bad or repeated waybill)."""
    now = now or datetime.now(timezone.utc)
    carrier = (carrier or "").strip().upper()
    waybills = [(w or "").strip() for w in waybills]
    check_carrier_waybill(carrier, "X")
    if not waybills:
        raise Invalid("at least one waybill", field="waybills")
    if len(waybills) > MAX_PARCELS:
        raise Invalid(f"at most {MAX_PARCELS} waybills a shipment", field="waybills")
    seen = set()
    for i, w in enumerate(waybills):
        try:
            check_carrier_waybill(carrier, w)
        except Invalid as e:
            raise Invalid(e.message, field=f"waybills[{i}]") from None
        if w in seen:
            raise Invalid(f"waybill {w} is listed twice", field=f"waybills[{i}]")
        seen.add(w)
    order = session.scalars(select(Order).where(Order.id == order_id).with_for_update()).first() if order_id else None
    if order is None:
        raise NotFound("order not found")
    if order.status in ("cancelled", "rejected"):
        raise Conflict(f"order {order.id} is {order.status}: nothing ships on it", field="order_id")
    if order.status not in ("approved", "shipped"):
        raise Conflict(f"order {order.id} is {order.status}: only an approved or shipped order takes parcels",
                       field="order_id")
    taken = session.scalars(select(Parcel.waybill).where(Parcel.carrier == carrier,
                                                         Parcel.waybill.in_(waybills))).all()
    if taken:
        raise Conflict(f"waybill {taken[0]} of {carrier} is already recorded",
                       field=f"waybills[{waybills.index(taken[0])}]")
    at = shipped_at or now
    if order.status == "approved":
        try:
            fulfilment.record_shipments(session, rows=[{"order_id": str(order.id), "shipped_at": at.isoformat()}],
                                        actor=actor, now=now)
        except fulfilment.BatchError as e:
            p = e.problems[0]
            raise (Conflict if p.kind == "conflict" else Invalid)(
                p.message, field="shipped_at" if p.field == "shipped_at" else "order_id") from None
        session.refresh(order)
    elif at > now + fulfilment.CLOCK_SKEW:
        raise Invalid(f"{at.isoformat()} is in the future", field="shipped_at")
    parcels = []
    for w in waybills:
        pid = uuid.uuid4()
        parcels.append(Parcel(id=pid, order_id=order.id, dealer_id=order.dealer_id, provider=provider,
                              carrier=carrier, waybill=w, shipped_at=at, receipt_delivers=receipt_delivers,
                              workflow_id=workflow_id_for(str(pid)), recorded_by=actor))
    session.add_all(parcels)
    session.add(OrderEvent(order_id=order.id, at=at, status=order.status, actor=actor,
                           note=f"{len(parcels)} parcel(s) by {carrier}: {', '.join(waybills[:10])}"))
    session.flush()
    replayed = tracking.replay_unmatched(session, [(carrier, w) for w in waybills])
    if replayed is not None:
        for p in parcels:
            session.refresh(p)
    return Recorded(order, parcels, replayed)


def receipt_of(session: Session, parcel_id: str) -> Parcel:
    parcel = session.scalars(select(Parcel).where(Parcel.id == uuid.UUID(parcel_id)).with_for_update()).first()
    if parcel is None:
        raise NotFound(f"parcel {parcel_id} not found")
    return parcel


def confirm_receipt(session: Session, *, parcel_id: str, actor: str, auto: bool = False,
                    now: datetime | None = None) -> ReceiptResult:
    """The dealer received the parcel (or, `auto`, said nothing for the configured days after its
    signing). A second confirmation changes nothing."""
    now = now or datetime.now(timezone.utc)
    parcel = receipt_of(session, parcel_id)
    if parcel.received_at is not None or parcel.receipt == "reported":  # HQ's answer to the report decides
        return ReceiptResult(parcel_id, parcel.receipt, parcel.received_at.isoformat() if parcel.received_at else "")
    parcel.receipt = "auto_confirmed" if auto else "confirmed"
    parcel.auto_confirmed, parcel.received_at, parcel.received_by = auto, now, actor
    note = (f"parcel {parcel.waybill} confirmed received automatically (signed {parcel.signed_at:%Y-%m-%d})"
            if auto and parcel.signed_at else f"parcel {parcel.waybill} received")
    return _received(session, parcel, actor, note, now)


def _received(session: Session, parcel: Parcel, actor: str, note: str, now: datetime) -> ReceiptResult:
    order = session.scalars(select(Order).where(Order.id == parcel.order_id).with_for_update()).one()
    session.add(OrderEvent(order_id=order.id, at=now, status="received", actor=actor, note=note))
    session.flush()
    delivered = False
    if parcel.receipt_delivers and order.status == "shipped":
        waiting = session.scalar(select(Parcel.id).where(Parcel.order_id == order.id, Parcel.received_at.is_(None),
                                                         Parcel.state != "returned").limit(1))
        if waiting is None:  # the last parcel: the order is delivered and booked to the dealer's account
            fulfilment.record_deliveries(session, rows=[{"order_id": str(order.id),
                                                         "delivered_at": max(now, order.shipped_at).isoformat()}],
                                         actor=actor, now=now)
            delivered = True
    return ReceiptResult(str(parcel.id), parcel.receipt, parcel.received_at.isoformat(), delivered)


def open_report(session: Session, *, parcel: Parcel, dealer_code: str, kind: str, note: str,
                photos: list[StoredFile], actor: str) -> tuple[ParcelReport, TaskSpec]:
    """A damage or shortage report (receipt still open): stored, and the task HQ will answer."""
    if kind not in PROBLEM_KINDS:
        raise Invalid(f"one of {', '.join(PROBLEM_KINDS)}", field="kind")
    if len(note) > MAX_NOTE:
        raise Invalid(f"at most {MAX_NOTE} characters", field="note")
    if not photos:
        raise Invalid("at least one photo of the parcel", field="photo")
    if len(photos) > MAX_PHOTOS:
        raise Invalid(f"at most {MAX_PHOTOS} photos", field="photo")
    if parcel.receipt != "open" or parcel.received_at is not None:
        raise Conflict(f"parcel {parcel.waybill} is already {parcel.receipt.replace('_', ' ')}")
    if parcel.state == "returned":
        raise Conflict(f"parcel {parcel.waybill} was returned to the sender")
    report = ParcelReport(id=uuid.uuid4(), parcel_id=parcel.id, kind=kind, note=note, task_id=uuid.uuid4(),
                          photos=[{"sha256": p.sha256, "content_type": p.content_type, "size": p.size,
                                   "filename": p.filename} for p in photos], reported_by=actor)
    session.add(report)
    parcel.receipt = "reported"
    session.flush()
    spec = TaskSpec(
        task_id=str(report.task_id), kind="parcel_problem",
        title=f"Parcel {parcel.carrier} {parcel.waybill} of dealer {dealer_code}: {kind} reported",
        subject_type="parcel", subject_id=str(parcel.id), dealer_id=parcel.dealer_id, assignee_role=REPORT_ROLE,
        outcomes=["accept", "reject"], sla_seconds=REPORT_SLA, escalate_to="admin",
        payload={"dealer": dealer_code, "order": str(parcel.order_id), "carrier": parcel.carrier,
                 "waybill": parcel.waybill, "kind": kind, "note": note, "photos": len(photos),
                 "report": str(report.id), "link": f"/console/orders/{parcel.order_id}"})
    return report, spec


def resolve_report(session: Session, *, report_id: str, task: TaskResult,
                   now: datetime | None = None) -> ReceiptResult:
    """HQ's answer to a report: recorded on it; the parcel then counts as received (the goods are
    with the dealer; a credit or a replacement follows as a return or a new order)."""
    now = now or datetime.now(timezone.utc)
    report = session.get(ParcelReport, uuid.UUID(report_id), with_for_update=True)
    if report is None:
        raise NotFound(f"report {report_id} not found")
    parcel = receipt_of(session, str(report.parcel_id))
    if report.outcome is None:
        report.outcome, report.resolved_by, report.resolution = task.outcome, task.actor, task.comment
    if parcel.received_at is not None:
        return ReceiptResult(str(parcel.id), parcel.receipt, parcel.received_at.isoformat())
    parcel.received_at, parcel.received_by = now, report.reported_by
    note = f"parcel {parcel.waybill}: {report.kind} report {task.outcome}ed by {task.actor}" + (
        f": {task.comment}" if task.comment else "")
    return _received(session, parcel, task.actor, note, now)


# --- reading -----------------------------------------------------------------------------------------

def parcels_of(session: Session, order_id: uuid.UUID) -> list[Parcel]:
    return list(session.scalars(select(Parcel).where(Parcel.order_id == order_id)
                                .order_by(Parcel.created_at, Parcel.waybill)))


def events_of(session: Session, parcel_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[TrackingEvent]]:
    """Each parcel's track, newest event first."""
    out: dict = {p: [] for p in parcel_ids}
    if parcel_ids:
        for e in session.scalars(select(TrackingEvent).where(TrackingEvent.parcel_id.in_(parcel_ids))
                                 .order_by(TrackingEvent.at.desc(), TrackingEvent.id.desc())):
            out[e.parcel_id].append(e)
    return out


def reports_of(session: Session, parcel_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ParcelReport]]:
    out: dict = {p: [] for p in parcel_ids}
    if parcel_ids:
        for r in session.scalars(select(ParcelReport).where(ParcelReport.parcel_id.in_(parcel_ids))
                                 .order_by(ParcelReport.reported_at)):
            out[r.parcel_id].append(r)
    return out


def parcel_with_dealer(session: Session, parcel_id: uuid.UUID) -> tuple[Parcel, Dealer] | None:
    row = session.execute(select(Parcel, Dealer).join(Dealer, Dealer.id == Parcel.dealer_id)
                          .where(Parcel.id == parcel_id)).first()
    return (row[0], row[1]) if row else None
