"""Placing an order: update-with-start, so the credit decision comes back in the same request."""
from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, WithStartWorkflowOperation,
                               WorkflowUpdateFailedError)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from dealerflow.core.errors import Invalid
from dealerflow.contracts.orders import workflow_id_for
from dealerflow.orders import credit as orders
from dealerflow.masterdata import dealers
from dealerflow.contracts import DEALER_ID, ORDER_ID, REGION, STAGE, \
    OrderLineInput, PlaceOrderInput
from dealerflow.models import User
from workflows import OrderWorkflow
from api.orders.schemas import OrderCreate, OrderRead
from api.orders.views import order_read
from api.temporal_calls import unavailable


@dataclass
class Placed:
    order: OrderRead
    replayed: bool


async def place_order(*, client: Client, task_queue: str, sessions: sessionmaker[Session], user: User,
                      body: OrderCreate, idempotency_key: str | None) -> Placed:
    dealer = user.dealer
    order_id = orders.order_id_for(dealer.id, idempotency_key)
    lines = [OrderLineInput(l.sku, l.quantity) for l in body.lines]
    # The key is bound to the request it came with: the same key with another body is a 422.
    fingerprint = orders.request_fingerprint(body.model_dump(mode="json")) if idempotency_key else None

    def check() -> OrderRead | None:
        with sessions() as session:
            first = order_read(session, order_id)
            if first is None:
                dealers.check_may_order(session, dealer.id)  # 409: a suspended or ended dealer
                orders.price_lines(session, lines)  # 422 naming the line, before anything starts
            else:
                orders.check_replay(session, order_id, fingerprint)
            return first

    first = await run_in_threadpool(check)
    if first is not None:
        return Placed(first, replayed=True)
    wid = workflow_id_for(order_id)
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        PlaceOrderInput(order_id=str(order_id), dealer_id=dealer.id, lines=lines, actor=user.username,
                        user_id=user.id, idempotency_key=idempotency_key, fingerprint=fingerprint),
        id=wid, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([
            Pair(DEALER_ID, dealer.code), Pair(REGION, dealer.region),
            Pair(ORDER_ID, str(order_id)), Pair(STAGE, "submitted")]))
    try:
        await client.execute_update_with_start_workflow(OrderWorkflow.decision, start_workflow_operation=start)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "OrderInputError":
            errors = cause.details[0]["errors"] if cause.details else [{"field": "lines", "message": cause.message}]
            raise Invalid.listing(errors) from None
        raise
    except RPCError as e:
        raise unavailable(e) from None

    def read() -> OrderRead:
        with sessions() as session:  # a concurrent request with this key and another body started it
            orders.check_replay(session, order_id, fingerprint)
            return order_read(session, order_id)

    return Placed(await run_in_threadpool(read), replayed=False)
