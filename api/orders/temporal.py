"""Placing an order: the decision is taken and stored in one database transaction and answered at
once; the order's workflow (review, then the order's later life) is started after the commit, and
nobody waits on it. The transaction also queues the start (the order_starts outbox): a start lost
to a crash or an unreachable Temporal is made by the order sweep, on its schedule."""
from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from dealerflow.contracts.orders import workflow_id_for
from dealerflow.orders import credit as orders
from dealerflow.stock import allocation
from dealerflow.contracts import (STAGE, OrderLineInput, OrderStart, OrderSweepInput, OrderSweepResult,
                                  PlaceOrderInput, order_search_attributes)
from dealerflow.models import User
from workflows import OrderSweepWorkflow, OrderWorkflow
from api.orders.schemas import OrderCreate, OrderRead
from api.orders.views import order_read, placed_read
from api.temporal_calls import ensure_schedule, unavailable

log = logging.getLogger("dealerflow.api")


@dataclass
class Placed:
    order: OrderRead
    replayed: bool
    start: OrderStart | None = None  # the workflow to start once the answer is out


async def place_order(*, sessions: sessionmaker[Session], user: User, body: OrderCreate,
                      idempotency_key: str | None) -> Placed:
    """Place the order and take its decisions in one transaction; answer from it."""
    dealer = user.dealer
    order_id = orders.order_id_for(dealer.id, idempotency_key)
    lines = [OrderLineInput(l.sku, l.quantity) for l in body.lines]
    # The key is bound to the request it came with: the same key with another body is a 422.
    fingerprint = orders.request_fingerprint(body.model_dump(mode="json")) if idempotency_key else None

    def place(optimistic: bool) -> Placed:
        with sessions.begin() as session:
            first = order_read(session, order_id) if idempotency_key else None
            if first is None:
                placed = orders.place(session, PlaceOrderInput(
                    order_id=str(order_id), dealer_id=dealer.id, lines=lines, actor=user.username, user_id=user.id,
                    idempotency_key=idempotency_key, fingerprint=fingerprint), workflow_id_for(str(order_id)),
                    optimistic=optimistic)
                if placed.created:
                    return Placed(placed_read(order_id, placed.written), False,
                                  OrderStart(str(order_id), dealer.id, dealer.region, placed.decision))
            # Placed before, maybe by a concurrent request with this key: the same body only.
            orders.check_replay(session, order_id, fingerprint)
            return Placed(first or order_read(session, order_id), True)

    def place_once() -> Placed:
        try:
            return place(optimistic=True)
        except allocation.StaleStock:  # the stock moved under it: again, its stock locked first
            return place(optimistic=False)

    return await run_in_threadpool(place_once)


async def start_order(*, client: Client, task_queue: str, sessions: sessionmaker[Session], start: OrderStart) -> bool:
    """Start a placed order's workflow (its id is the order's: a second start starts nothing) and let
    the outbox go of it. A start that fails is left to the order sweep."""
    try:
        await client.start_workflow(
            OrderWorkflow.run, start, id=workflow_id_for(start.order_id), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=order_search_attributes(start))
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as e:
        log.warning("order %s: workflow not started (%s); the order sweep will start it", start.order_id, e)
        return False

    _outbox(sessions).release(start.order_id)
    return True


class _Started:
    """Orders whose workflow started, deleted from the outbox a batch at a time (one transaction for
    the orders of a few milliseconds, not one each). Should the process die first, the sweep starts
    them again, which starts nothing: the workflow id is the order's."""
    WAIT = 0.01

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions, self.pending, self.task = sessions, [], None

    def release(self, order_id: str) -> None:
        self.pending.append(uuid.UUID(order_id))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self.pending:
            await asyncio.sleep(self.WAIT)
            batch, self.pending = self.pending, []

            def delete() -> None:
                with self.sessions.begin() as session:
                    orders.started(session, batch)

            try:
                await run_in_threadpool(delete)
            except Exception as e:  # the sweep finds them; starting them again starts nothing
                log.warning("%d started orders left in the outbox (%s)", len(batch), e)


_STARTED: "weakref.WeakKeyDictionary[sessionmaker, _Started]" = weakref.WeakKeyDictionary()


def _outbox(sessions: sessionmaker[Session]) -> _Started:
    started = _STARTED.get(sessions)
    if started is None:
        started = _STARTED[sessions] = _Started(sessions)
    return started


async def run_order_sweep(*, client: Client, task_queue: str, now=None) -> OrderSweepResult:
    """The schedule's sweep, now: orders whose workflow start was lost are started."""
    try:
        return await client.execute_workflow(
            OrderSweepWorkflow.run, OrderSweepInput(now), id=f"order-sweep-{uuid.uuid4()}", task_queue=task_queue,
            search_attributes=TypedSearchAttributes([Pair(STAGE, "sweeping")]))
    except RPCError as e:
        raise unavailable(e) from None


ORDER_SCHEDULE = "order-sweep"
ORDER_SWEEP_EVERY = timedelta(minutes=1)


async def sync_order_schedule(*, client: Client, task_queue: str) -> None:
    """Every minute: start the workflows of orders whose start was lost."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            OrderSweepWorkflow.run, OrderSweepInput(), id="order-sweep", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=ORDER_SWEEP_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, ORDER_SCHEDULE, schedule)
