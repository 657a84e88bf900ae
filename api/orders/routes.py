from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response, status
from dealerflow.core.errors import Conflict, NotFound
from dealerflow.orders import credit as orders

from api.errors import responses
from api.orders import temporal
from api.deps import CurrentUser, DealerUser, SessionDep, SettingsDep, TemporalDep
from api.orders.schemas import OrderCreate, OrderRead, OrderSummary
from api.orders.views import order_read, order_summaries, visible_order

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


@router.post("", response_model=OrderRead, status_code=201, responses=responses(409))
async def place_order(body: OrderCreate, request: Request, response: Response, user: DealerUser,
                      client: TemporalDep, settings: SettingsDep, background: BackgroundTasks,
                      idempotency_key: Annotated[str | None, Header(max_length=128)] = None):
    """Place an order; the credit decision, the stock allocation and their explanations come back in
    the response, taken in one transaction. The order's workflow (a review, when the rules ask for
    one) starts after the answer. A resubmission with the same Idempotency-Key and body returns the
    first order (200, not a new one); the same key with another body is refused (422). A suspended or
    ended dealer orders nothing (409)."""
    sessions = request.app.state.sessions
    placed = await temporal.place_order(sessions=sessions, user=user, body=body, idempotency_key=idempotency_key)
    if placed.start is not None:
        background.add_task(temporal.start_order, client=client, task_queue=settings.task_queue, sessions=sessions,
                            start=placed.start)
    if placed.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return placed.order


@router.get("", response_model=list[OrderSummary])
def list_orders(session: SessionDep, user: CurrentUser, status_: Annotated[str | None, Query(alias="status")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """Newest first; a dealer sees its own orders (and its level-2 dealers')."""
    return order_summaries(session, user, status=status_, limit=limit)


@router.get("/{order_id}", response_model=OrderRead)
def get_order(order_id: str, session: SessionDep, user: CurrentUser):
    order = visible_order(session, user, order_id)
    if order is None:
        raise NotFound("order not found")
    return order_read(session, order)


@router.post("/{order_id}/cancel", response_model=OrderRead, responses=responses(409))
def cancel_order(order_id: str, session: SessionDep, user: DealerUser):
    order = visible_order(session, user, order_id)
    if order is None or order.dealer_id != user.dealer_id:
        raise NotFound("order not found")
    session.refresh(order, with_for_update=True)
    try:
        orders.cancel(session, order, user.username)
    except orders.OrderStateError as e:
        raise Conflict(str(e)) from None
    session.commit()
    return order_read(session, order)
