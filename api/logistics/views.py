"""Read models of parcels: an order's parcels with their tracks and reports, in the caller's scope."""
from __future__ import annotations



from sqlalchemy.orm import Session

from dealerflow.logistics import parcels as shipments
from dealerflow.logistics.providers import providers
from dealerflow.models import Dealer, Parcel, User
from api.logistics.schemas import ParcelRead, ReportRead, TrackEventRead
from api.orders.views import visible_order
from api.scope import parse_uuid, sees_dealer


def parcel_reads(session: Session, items: list[Parcel], dealer_code: str) -> list[ParcelRead]:
    ids = [p.id for p in items]
    events, reports = shipments.events_of(session, ids), shipments.reports_of(session, ids)
    return [ParcelRead(
        id=str(p.id), order_id=str(p.order_id), dealer_code=dealer_code, provider=p.provider, carrier=p.carrier,
        waybill=p.waybill, state=p.state, shipped_at=p.shipped_at, last_event_at=p.last_event_at,
        signed_at=p.signed_at, signed_place=p.signed_place, receipt=p.receipt, received_at=p.received_at,
        received_by=p.received_by, auto_confirmed=p.auto_confirmed,
        events=[TrackEventRead(at=e.at, state=e.state, text=e.text, place=e.place) for e in events[p.id]],
        reports=[ReportRead(id=str(r.id), kind=r.kind, note=r.note, photos=len(r.photos or []),
                            reported_by=r.reported_by, reported_at=r.reported_at, task_id=str(r.task_id),
                            outcome=r.outcome, resolved_by=r.resolved_by, resolution=r.resolution)
                 for r in reports[p.id]]) for p in items]


def order_parcels(session: Session, user: User, order_id: str) -> list[ParcelRead] | None:
    """The parcels of an order the caller may see (None: no such order for them)."""
    order = visible_order(session, user, order_id)
    if order is None:
        return None
    dealer = session.get(Dealer, order.dealer_id)
    return parcel_reads(session, shipments.parcels_of(session, order.id), dealer.code)


def visible_parcel(session: Session, user: User, parcel_id: str) -> tuple[Parcel, Dealer] | None:
    pid = parse_uuid(parcel_id)
    found = shipments.parcel_with_dealer(session, pid) if pid else None
    if found is None or not _sees(user, found[1]):
        return None
    return found


def _sees(user: User, dealer: Dealer) -> bool:
    # Orders are seen by a dealer and its level-1 parent (api/scope.dealer_scope); parcels follow them.
    if user.role == "dealer":
        return dealer.id == user.dealer_id or dealer.parent_id == user.dealer_id
    return sees_dealer(user, dealer)


def order_logistics(request, session: Session, user: User, order) -> dict:
    """What the order page shows of logistics: its parcels with their tracks, the providers to ship with."""
    settings = request.app.state.settings
    dealer = session.get(Dealer, order.dealer_id)
    return {"parcels": parcel_reads(session, shipments.parcels_of(session, order.id), dealer.code),
            "providers": sorted(providers(secrets=settings.logistics_secrets, secret_key=settings.secret_key))}
