"""Console pages of orders: the list, the order form and an order's page with its decision."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from pydantic import ValidationError
from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from sqlalchemy import select
from dealerflow.core.errors import DomainError
from dealerflow.core.errors import Forbidden, NotFound
from dealerflow.models import Product
from api.orders import temporal
from dealerflow.orders import fulfilment, history
from api.orders import history as history_routes
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.orders.schemas import OrderCreate, OrderLineIn
from api.orders.views import order_count, order_read, order_summaries, visible_order
from api.logistics.views import order_logistics
from api.pages import back, label_of, refusal, require, translator, ConsoleUser, page
from api.paging import paging
from api.i18n import TIME_ZONE
from dealerflow.models import ORDER_STATUSES


router = APIRouter(prefix="/console", include_in_schema=False)


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip()) if raw and raw.strip() else None
    except ValueError:
        return None


def _start_of(day: date | None) -> datetime | None:
    """Midnight of a day in the business time zone (the console's times are shown in it)."""
    return datetime.combine(day, time(), tzinfo=TIME_ZONE) if day else None


def _orders(request: Request, session, user, *, status: str | None, q: str | None, since: str | None,
            until: str | None) -> dict:
    """The list of the orders page, a page of it: filters (status, order id or dealer code for staff,
    days placed from and to), the page's rows and the pager with the total."""
    status = status if status in ORDER_STATUSES else None
    q = None if user.role == "dealer" else ((q or "").strip()[:64] or None)
    first, last = _day(since), _day(until)
    filters = dict(status=status, search=q, since=_start_of(first),
                   before=_start_of(last + timedelta(days=1)) if last else None)
    pager = paging(request, order_count(session, user, **filters), status=status or "", q=q or "",
                   since=first.isoformat() if first else "", until=last.isoformat() if last else "")
    return dict(orders=order_summaries(session, user, limit=pager.limit, offset=pager.offset, **filters),
                pager=pager, status=status or "", q=q or "", since=first.isoformat() if first else "",
                until=last.isoformat() if last else "", statuses=ORDER_STATUSES)


@router.get("/orders")
def orders_page(request: Request, session: SessionDep, user: ConsoleUser, status: str | None = None,
                q: str | None = None, since: str | None = None, until: str | None = None):
    products = list(session.scalars(select(Product).order_by(Product.sku))) if user.role == "dealer" else []
    return page(request, "orders.html", user, products=products, form={},
                **_orders(request, session, user, status=status, q=q, since=since, until=until))


@router.post("/orders")
async def place_order(request: Request, user: ConsoleUser, client: TemporalDep, settings: SettingsDep,
                      background: BackgroundTasks, sku: Annotated[str, Form()] = "",
                      quantity: Annotated[str, Form()] = ""):
    if user.role != "dealer":
        raise Forbidden("only dealers place orders")
    sessions = request.app.state.sessions
    _ = translator(request)
    form = {"sku": sku, "quantity": quantity}
    try:
        try:
            count = int(quantity.strip())
        except ValueError:
            form["fault"] = "quantity"
            raise DomainError(_("Enter the quantity as a whole number."), field="quantity") from None
        body = OrderCreate(lines=[OrderLineIn(sku=sku, quantity=count)])
        placed = await temporal.place_order(sessions=sessions, user=user, body=body, idempotency_key=None)
    except (DomainError, ValidationError) as e:
        message, _status = refusal(e, request)
        if "fault" not in form:  # the field at fault: the product when the service names it, else the quantity
            form["fault"] = "sku" if "sku" in message.lower() else "quantity"

        def again():
            with sessions() as session:
                return page(request, "orders.html", user, 422, error=message, form=form,
                            products=list(session.scalars(select(Product).order_by(Product.sku))),
                            **_orders(request, session, user, status=None, q=None, since=None, until=None))
        return await run_in_threadpool(again)
    if placed.start is not None:  # after the answer, like the API's
        background.add_task(temporal.start_order, client=client, task_queue=settings.task_queue, sessions=sessions,
                            start=placed.start)
    return back(f"/console/orders/{placed.order.id}", flash=_("Order %(id)s placed: %(status)s.",
                                                           id=placed.order.id[:8],
                                                           status=label_of(request, placed.order.status)))


@router.get("/orders/{order_id}")
def order_page(order_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    order = visible_order(session, user, order_id)
    if order is None:
        raise NotFound("order not found")
    return page(request, "order.html", user, order=order_read(session, order), order_dealer_id=order.dealer_id,
                **order_logistics(request, session, user, order))


# --- imports from the ERP or the warehouse ----------------------------------------------------------

IMPORTERS = ("hq", "finance", "admin")
PROBLEMS_SHOWN = 200


def _imports_page(request, user, status_code: int = 200, **context):
    return page(request, "imports.html", user, status_code, kinds=fulfilment.COLUMNS,
                limit_mb=fulfilment.MAX_UPLOAD // (1024 * 1024), **context)


@router.get("/imports")
def imports_page(request: Request, user: ConsoleUser):
    require(user, *IMPORTERS)
    return _imports_page(request, user)


@router.post("/imports")
async def import_file(request: Request, user: ConsoleUser, kind: Annotated[str, Form()] = "",
                      file: Annotated[UploadFile | None, File()] = None):
    """The same import as `POST /api/v1/imports/{kind}`: all rows or none, every problem by line."""
    require(user, *IMPORTERS)
    _ = translator(request)
    if kind not in fulfilment.COLUMNS:
        return _imports_page(request, user, 422, kind=kind, error=_("Choose what the file holds."))
    if file is None or not file.filename:
        return _imports_page(request, user, 422, kind=kind, error=_("Choose a CSV file."))
    data = await file.read(fulfilment.MAX_UPLOAD + 1)
    if len(data) > fulfilment.MAX_UPLOAD:
        return _imports_page(request, user, 413, kind=kind,
                             error=_("The file is larger than %(mb)s MB: split it.",
                                     mb=fulfilment.MAX_UPLOAD // (1024 * 1024)))

    def record():
        with request.app.state.sessions() as session:
            recorded = fulfilment.import_csv(session, kind=kind, data=data, actor=user.username)
            session.commit()
            return recorded

    try:
        recorded = await run_in_threadpool(record)
    except fulfilment.BatchError as e:
        return _imports_page(request, user, 422, kind=kind, problems=e.problems[:PROBLEMS_SHOWN],
                             more=max(0, len(e.problems) - PROBLEMS_SHOWN), filename=file.filename)
    except DomainError as e:
        return _imports_page(request, user, refusal(e)[1], kind=kind, error=refusal(e)[0])
    return _imports_page(request, user, kind=kind, recorded=recorded, filename=file.filename)


# --- order history from the ERP ---------------------------------------------------------------------

HISTORY_IMPORTERS = ("admin", "finance")


def _history_page(request, session, user, status_code: int = 200, **context):
    return page(request, "history_import.html", user, status_code, fields=history.FIELDS, needs=history.NEEDS,
                statuses=history.STATUSES, runs=history.recent(session), limit_mb=history.MAX_UPLOAD // (1024 * 1024),
                **context)


@router.get("/imports/history")
def history_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *HISTORY_IMPORTERS)
    return _history_page(request, session, user)


@router.post("/imports/history")
async def import_history(request: Request, session: SessionDep, user: ConsoleUser,
                         file: Annotated[UploadFile | None, File()] = None,
                         dry_run: Annotated[str, Form()] = ""):
    """The same import as `POST /api/v1/imports/order-history`: all rows or none, every problem by line."""
    require(user, *HISTORY_IMPORTERS)
    _ = translator(request)
    dry = dry_run in ("1", "on", "true")
    if file is None or not file.filename:
        return _history_page(request, session, user, 422, dry_run=dry, error=_("Choose a CSV or XLSX file."))
    data = await file.read(history.MAX_UPLOAD + 1)
    if len(data) > history.MAX_UPLOAD:
        return _history_page(request, session, user, 413, dry_run=dry,
                             error=_("The file is larger than %(mb)s MB: split it.",
                                     mb=history.MAX_UPLOAD // (1024 * 1024)))

    def work(s):
        return history.import_file(s, data=data, actor=user.username, dry_run=dry)

    try:
        found, _run = await run_in_threadpool(history_routes.run_import, request.app.state.sessions,
                                              filename=file.filename, actor=user.username, dry_run=dry, work=work)
    except history.HistoryError as e:
        return _history_page(request, session, user, 422, dry_run=dry, problems=e.problems[:PROBLEMS_SHOWN],
                             more=max(0, e.total - min(len(e.problems), PROBLEMS_SHOWN)), filename=file.filename)
    except DomainError as e:
        return _history_page(request, session, user, refusal(e)[1], dry_run=dry, error=refusal(e)[0])
    return _history_page(request, session, user, dry_run=dry, found=found, filename=file.filename)
