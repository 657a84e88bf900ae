"""Console pages of orders: the list, the order form and an order's page with its decision."""
from __future__ import annotations

from typing import Annotated
from pydantic import ValidationError
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from sqlalchemy import select
from dealerflow.core.errors import DomainError
from dealerflow.core.errors import Forbidden, NotFound
from dealerflow.models import Product
from api.orders import temporal
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.orders.schemas import OrderCreate, OrderLineIn
from api.orders.views import order_read, order_summaries, visible_order
from api.pages import refusal, ConsoleUser, page


router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/orders")
def orders_page(request: Request, session: SessionDep, user: ConsoleUser, status: str | None = None):
    rows = order_summaries(session, user, status=status, limit=100)
    products = list(session.scalars(select(Product).order_by(Product.sku))) if user.role == "dealer" else []
    return page(request, "orders.html", user, orders=rows, products=products, status=status)


@router.post("/orders")
async def place_order(request: Request, user: ConsoleUser, client: TemporalDep, settings: SettingsDep,
                      sku: Annotated[str, Form()], quantity: Annotated[int, Form()]):
    if user.role != "dealer":
        raise Forbidden("only dealers place orders")
    sessions = request.app.state.sessions
    try:
        body = OrderCreate(lines=[OrderLineIn(sku=sku, quantity=quantity)])
        placed = await temporal.place_order(client=client, task_queue=settings.task_queue,
                                                 sessions=sessions, user=user, body=body, idempotency_key=None)
    except (DomainError, ValidationError) as e:
        message, _ = refusal(e, request)

        def again():
            with sessions() as session:
                return page(request, "orders.html", user, 422, status=None, error=message,
                            orders=order_summaries(session, user, status=None, limit=100),
                            products=list(session.scalars(select(Product).order_by(Product.sku))))
        return await run_in_threadpool(again)
    return RedirectResponse(f"/console/orders/{placed.order.id}", status_code=303)


@router.get("/orders/{order_id}")
def order_page(order_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    order = visible_order(session, user, order_id)
    if order is None:
        raise NotFound("order not found")
    return page(request, "order.html", user, order=order_read(session, order))
