"""Console pages of logistics: HQ records a shipment from the order page; the dealer follows each
parcel's track there and confirms its receipt or reports it damaged or short (with photos); HQ
lists the waybills tracked with no parcel."""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError, NotFound
from dealerflow.logistics import tracking
from api.deps import SessionDep, TemporalDep
from api.logistics import flows
from api.logistics.views import visible_parcel
from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.paging import paging

router = APIRouter(prefix="/console", include_in_schema=False)
SHIPPERS = ("hq", "finance", "admin")


@router.post("/orders/{order_id}/parcels")
async def record_shipment(order_id: str, request: Request, user: ConsoleUser, client: TemporalDep,
                          carrier: Annotated[str, Form()] = "", waybills: Annotated[str, Form()] = "",
                          provider: Annotated[str, Form()] = "kdniao"):
    """The order page's shipment form: a carrier and its waybills (separated by spaces, commas or lines)."""
    require(user, *SHIPPERS)
    _ = translator(request)
    listed = [w for w in re.split(r"[\s,;，；]+", waybills) if w]
    try:
        recorded = await flows.record_shipment(request, client, user, order_id=order_id, carrier=carrier,
                                               waybills=listed, provider=provider.strip(), shipped_at=None)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return back(f"/console/orders/{order_id}", flash=refusal(e, request)[0], kind="warn")
    return back(f"/console/orders/{order_id}", flash=_("%(n)s parcel(s) recorded.", n=len(recorded)))


async def _order_of(request: Request, user, parcel_id: str) -> str:
    def find():
        with request.app.state.sessions() as session:
            found = visible_parcel(session, user, parcel_id)
            if found is None:
                raise NotFound("parcel not found")
            return str(found[0].order_id)
    return await run_in_threadpool(find)


@router.post("/parcels/{parcel_id}/receipt")
async def confirm_receipt(parcel_id: str, request: Request, user: ConsoleUser, client: TemporalDep):
    require(user, "dealer")
    order_id = await _order_of(request, user, parcel_id)
    try:
        parcel = await flows.confirm_receipt(request, client, user, parcel_id)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return back(f"/console/orders/{order_id}", flash=refusal(e, request)[0], kind="warn")
    _ = translator(request)
    return back(f"/console/orders/{order_id}", flash=_("Parcel %(waybill)s received.", waybill=parcel.waybill))


@router.post("/parcels/{parcel_id}/report")
async def report_problem(parcel_id: str, request: Request, user: ConsoleUser, client: TemporalDep):
    """The report form (kind, note, photos), read only once the caller is known to be the parcel's dealer."""
    require(user, "dealer")
    order_id = await _order_of(request, user, parcel_id)
    try:
        form = await flows.receive_report(request, user, parcel_id)
        await flows.report_problem(request, client, user, parcel_id, form)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return back(f"/console/orders/{order_id}", flash=refusal(e, request)[0], kind="warn")
    _ = translator(request)
    return back(f"/console/orders/{order_id}", flash=_("Report sent: HQ will answer it."))


@router.get("/logistics/unmatched")
def unmatched_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "hq", "admin")
    pager = paging(request, tracking.unmatched_count(session))
    return page(request, "unmatched.html", user, pager=pager,
                waybills=tracking.unmatched(session, limit=pager.limit, offset=pager.offset))
