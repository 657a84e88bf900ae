"""Logistics: shipments in parcels (HQ, finance and the warehouse's accounts), tracking pushes
from the providers (signed, no login), each order's tracks, the dealer's receipt and damage or
shortage reports, and the waybills tracked with no parcel."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse


from dealerflow.core.errors import NotFound
from dealerflow.logistics import parcels as shipments, tracking
from dealerflow.models import ParcelReport, User
from dealerflow.shared.evidence import EvidenceStore, download_name
from dealerflow.shared.accounts import CHINA
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep, require_role
from api.errors import responses
from api.logistics import flows
from api.logistics.schemas import ParcelRead, PushAck, ShipmentCreate, UnmatchedRead
from api.logistics.views import order_parcels, visible_parcel
from api.scope import parse_uuid
from api.schemas import BIGINT

router = APIRouter(prefix="/api/v1", tags=["logistics"])
Shippers = Annotated[User, require_role("admin", "hq", "finance")]  # the warehouse's and the ERP's accounts
Watchers = Annotated[User, require_role("admin", "hq")]
PhotoReaders = Annotated[User, require_role("dealer", "hq", "admin")]
_PUSH_BODY = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["RequestData", "DataSign"], "properties": {
        "RequestData": {"type": "string", "description": "JSON: Data, a list of waybills with ShipperCode, "
                                                         "LogisticCode, State, Location and Traces"},
        "DataSign": {"type": "string", "description": "base64(md5(RequestData + secret))"},
        "RequestType": {"type": "string"}}}}}}}
_REPORT_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["kind", "photo"], "properties": {
        "kind": {"type": "string", "enum": ["damage", "shortage"]},
        "note": {"type": "string", "maxLength": 2000},
        "photo": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": 9}}}}}}}


@router.post("/logistics/push/{provider}", response_model=PushAck, openapi_extra=_PUSH_BODY,
             responses=responses(401, 413))
async def tracking_push(provider: str, request: Request, client: TemporalDep):
    """A tracking provider's push (快递鸟-style: form fields RequestData and DataSign). No login: the
    signature with the provider's secret is the credential — a bad one is a 401 and nothing is stored.
    Events already known are skipped; a waybill no parcel has is kept as unmatched and listed."""
    result = await flows.push(request, client, provider)
    return PushAck(Success=True, UpdateTime=datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"), tracks=result.tracks,
                   events=result.events, new=result.new, unmatched=result.unmatched)


@router.post("/orders/{order_id}/parcels", response_model=list[ParcelRead], status_code=201, responses=responses(409))
async def record_shipment(order_id: str, body: ShipmentCreate, request: Request, user: Shippers, client: TemporalDep):
    """Parcels leaving for an order (carrier and one waybill per parcel): the order's shipment when
    it is approved, more parcels when it is shipped; refused (409) on a cancelled, rejected or
    unapproved order, and for a waybill already recorded."""
    return await flows.record_shipment(request, client, user, order_id=order_id, carrier=body.carrier,
                                       waybills=body.waybills, provider=body.provider, shipped_at=body.shipped_at)


@router.get("/orders/{order_id}/parcels", response_model=list[ParcelRead])
def list_parcels(order_id: str, session: SessionDep, user: CurrentUser):
    """An order's parcels with their tracks (newest event first) and reports; scoped as the order is."""
    found = order_parcels(session, user, order_id)
    if found is None:
        raise NotFound("order not found")
    return found


@router.post("/parcels/{parcel_id}/receipt", response_model=ParcelRead, responses=responses(409))
async def confirm_receipt(parcel_id: str, request: Request, user: DealerUser, client: TemporalDep):
    """The dealer received the parcel (409 once its receipt is recorded or reported)."""
    return await flows.confirm_receipt(request, client, user, parcel_id)


@router.post("/parcels/{parcel_id}/report", response_model=ParcelRead, status_code=201, openapi_extra=_REPORT_FORM,
             responses=responses(409, 413, 415))
async def report_problem(parcel_id: str, request: Request, user: DealerUser, client: TemporalDep):
    """Multipart: `kind` (damage or shortage), `note`, one to nine `photo` files. HQ answers it as a
    task; the parcel counts as received once HQ has answered."""
    form = await flows.receive_report(request, user, parcel_id)
    return await flows.report_problem(request, client, user, parcel_id, form)


@router.get("/parcel-reports/{report_id}/photos/{index}", response_class=FileResponse, responses={200: {
    "description": "the photo as it was uploaded", "content": {"image/*": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}})
def report_photo(report_id: str, index: Annotated[int, Path(ge=0, le=shipments.MAX_PHOTOS - 1)], request: Request,
                 session: SessionDep, user: PhotoReaders):
    """A photo of a damage or shortage report: for the parcel's dealer, HQ and admins."""
    rid = parse_uuid(report_id)
    report = session.get(ParcelReport, rid) if rid else None
    if report is None or index >= len(report.photos or []) or visible_parcel(
            session, user, str(report.parcel_id)) is None:
        raise NotFound("photo not found")
    photo = report.photos[index]
    path = EvidenceStore(request.app.state.settings.evidence_path).path(photo["sha256"])
    name = download_name(f"parcel-report-{report.id}-{index + 1}", photo["content_type"])
    return FileResponse(path, media_type=photo["content_type"], headers={
        "Content-Disposition": f"inline; filename=\"{name}\"", "X-Content-Type-Options": "nosniff"})


@router.get("/logistics/unmatched", response_model=list[UnmatchedRead])
def list_unmatched(session: SessionDep, user: Watchers, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   offset: Annotated[int, Query(ge=0, le=BIGINT)] = 0):
    """Waybills providers tracked that no parcel has (kept; a parcel recorded later takes their events)."""
    return [UnmatchedRead(provider=u.provider, carrier=u.carrier, waybill=u.waybill, pushes=u.pushes, events=u.events,
                          first_seen=u.first_seen, last_seen=u.last_seen)
            for u in tracking.unmatched(session, limit=limit, offset=offset)]



