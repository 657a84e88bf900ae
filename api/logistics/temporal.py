"""Logistics in Temporal: a ShipmentWorkflow started per parcel, the ingest telling it of a
signing, the dealer's receipt and reports as updates, and the tracking poll's schedule."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from dealerflow.contracts import (DEALER_ID, ORDER_ID, REGION, STAGE, WAYBILL, PollInput, ReceiptInput,
                                  ReceiptResult, ReportInput, ShipmentInput, SignedParcel, Tracked)
from dealerflow.contracts.logistics import POLL_WORKFLOW_ID
from dealerflow.core.errors import Conflict
from dealerflow.models import Dealer, Parcel
from workflows import ShipmentWorkflow, TrackingPollWorkflow
from api.temporal_calls import ensure_every, run_update, unavailable

log = logging.getLogger("dealerflow.api")
TELLS = 16  # signals sent at once after a push
POLL_SCHEDULE = "tracking-poll"
POLL_EVERY = timedelta(minutes=15)


async def start_shipments(*, client: Client, task_queue: str, parcels: list[Parcel], dealer: Dealer,
                          auto_confirm_seconds: int) -> None:
    """A workflow per parcel, started before the shipment commits: if Temporal is down nothing is
    recorded and the caller tries again."""
    try:
        for p in parcels:
            await client.start_workflow(
                ShipmentWorkflow.run,
                ShipmentInput(str(p.id), str(p.order_id), dealer.id, dealer.code, p.carrier, p.waybill,
                              auto_confirm_seconds),
                id=p.workflow_id, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes([
                    Pair(DEALER_ID, dealer.code), Pair(REGION, dealer.region), Pair(ORDER_ID, str(p.order_id)),
                    Pair(WAYBILL, p.waybill), Pair(STAGE, "in_transit")]))
    except RPCError as e:
        raise unavailable(e) from None


async def tell(*, client: Client, parcels: list[SignedParcel]) -> list[str]:
    """Tell parcels' workflows of their signing (or return), after the ingest committed. Returns the
    parcels told; the others are told by the tracking poll."""
    gate = asyncio.Semaphore(TELLS)

    async def one(p: SignedParcel) -> str | None:
        async with gate:
            try:
                await client.get_workflow_handle(p.workflow_id).signal(ShipmentWorkflow.tracked, Tracked(p.state, p.at))
                return p.parcel_id
            except RPCError as e:
                if "already completed" in str(e).lower() or "not found" in str(e).lower():
                    return p.parcel_id
                log.warning("parcel %s: workflow not told (%s); the tracking poll will tell it", p.parcel_id, e)
                return None

    return [p for p in await asyncio.gather(*(one(p) for p in parcels)) if p]


_ENDED = Conflict("the parcel's receipt is already recorded")
_REFUSALS = {"ReceiptClosed": Conflict}


async def confirm(*, client: Client, parcel: Parcel, actor: str) -> ReceiptResult:
    handle = client.get_workflow_handle(parcel.workflow_id, result_type=None)
    return await run_update(handle, ShipmentWorkflow.confirm, ReceiptInput(str(parcel.id), actor),
                            refusals=_REFUSALS, ended=_ENDED)


async def report(*, client: Client, parcel: Parcel, inp: ReportInput) -> str:
    handle = client.get_workflow_handle(parcel.workflow_id)
    return await run_update(handle, ShipmentWorkflow.report, inp, refusals=_REFUSALS, ended=_ENDED)


async def sync_poll_schedule(*, client: Client, task_queue: str) -> None:
    """Every 15 minutes: poll the providers without pushes, tell workflows the API could not tell."""
    await ensure_every(client, POLL_SCHEDULE, TrackingPollWorkflow.run, PollInput(), workflow_id=POLL_WORKFLOW_ID,
                       every=POLL_EVERY, task_queue=task_queue)


async def poll_now(*, client: Client, task_queue: str):
    """The poll, now (the demo and the tests)."""
    try:
        return await client.execute_workflow(TrackingPollWorkflow.run, PollInput(), id=f"tracking-poll-{uuid.uuid4()}",
                                             task_queue=task_queue,
                                             search_attributes=TypedSearchAttributes([Pair(STAGE, "polling")]))
    except RPCError as e:
        raise unavailable(e) from None
