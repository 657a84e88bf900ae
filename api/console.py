"""Server-rendered pages for people: login, the approver's inbox, task and order pages. The policy
pages are in console_policies.py and share the layout, helpers and filters defined here."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from sqlalchemy import select

from dealerflow import policy_tasks, tasks
from dealerflow.models import Product, User
from dealerflow.orders import OrderInputError
from dealerflow.security import issue_token

from . import orchestration
from .deps import COOKIE, SessionDep, SettingsDep, TemporalDep, user_from_token
from .routes.auth import authenticate
from .schemas import OrderCreate, OrderLineIn, TaskComplete
from .views import assignment_read, order_read, order_summaries, parse_uuid, task_read, visible_order

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)


def _when(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A datetime or an ISO string (read models carry both) as the console shows times; "" for none."""
    if not value:
        return ""
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).strftime(fmt)


def _pct(rate) -> str:
    return f"{Decimal(str(rate)) * 100:.1f}%"  # rates travel as decimal strings such as "0.5000"


templates.env.filters.update(when=_when, pct=_pct)


def console_user(request: Request) -> User:
    user = user_from_token(request, request.cookies.get(COOKIE))
    if user is None:
        raise HTTPException(303, headers={"Location": f"/console/login?next={request.url.path}"})
    return user


ConsoleUser = Annotated[User, Depends(console_user)]


def page(request: Request, name: str, user: User | None, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"user": user, **context}, status_code=status_code)


@router.get("/login")
def login_form(request: Request, next: str = "/console"):
    return page(request, "login.html", None, next=next if next.startswith("/console") else "/console")


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/console"):
    user = authenticate(session, username, password)
    if user is None:
        return page(request, "login.html", None, 401, next=next, error="Wrong username or password.")
    token = issue_token(username=user.username, role=user.role, secret=settings.secret_key,
                        minutes=settings.token_minutes)
    response = RedirectResponse(next if next.startswith("/console") else "/console", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=settings.token_minutes * 60)
    return response


@router.post("/logout")
def logout():
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("")
def home(user: ConsoleUser):
    return RedirectResponse("/console/orders" if user.role == "dealer" else "/console/tasks", status_code=303)


@router.get("/tasks")
def inbox(request: Request, session: SessionDep, user: ConsoleUser, status: str = "open"):
    status = status if status in ("open", "completed") else "open"
    rows = [task_read(session, t) for t in tasks.inbox(session, user, status=status)]
    return page(request, "inbox.html", user, tasks=rows, status=status)


def _task_page(request, session, user, task_id, error=None, status_code=200):
    tid = parse_uuid(task_id)
    task = tasks.visible(session, user, tid) if tid else None
    if task is None:
        raise HTTPException(404, "task not found")
    order = visible_order(session, user, task.subject_id) if task.subject_type == "order" else None
    assignment = None
    if task.kind == "evidence_review":  # the reviewer decides on what was submitted
        aid = parse_uuid(str(task.payload.get("assignment_id", "")))
        a = policy_tasks.assignment_of(session, aid, None) if aid else None
        assignment = assignment_read(session, a, with_evidence=True) if a else None
    return page(request, "task.html", user, status_code, task=task_read(session, task, with_history=True),
                order=order_read(session, order) if order else None, assignment=assignment,
                may_complete=tasks.may_complete(user, task) and task.status == "open", error=error)


@router.get("/tasks/{task_id}")
def task_page(task_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    return _task_page(request, session, user, task_id)


@router.post("/tasks/{task_id}")
async def complete_task(task_id: str, request: Request, user: ConsoleUser, client: TemporalDep,
                        outcome: Annotated[str, Form()], comment: Annotated[str, Form(max_length=2000)] = ""):
    sessions = request.app.state.sessions

    def load():
        tid = parse_uuid(task_id)
        with sessions() as session:
            return tasks.visible(session, user, tid) if tid else None

    task = await run_in_threadpool(load)
    if task is None:
        raise HTTPException(404, "task not found")
    try:
        await orchestration.complete_task(client=client, sessions=sessions, user=user, task=task,
                                          body=TaskComplete(outcome=outcome, comment=comment))
    except HTTPException as e:
        message = e.detail if isinstance(e.detail, str) else "; ".join(d["message"] for d in e.detail)
        status_code = e.status_code

        def again():
            with sessions() as session:
                return _task_page(request, session, user, task_id, error=message, status_code=status_code)
        return await run_in_threadpool(again)
    return RedirectResponse("/console/tasks", status_code=303)


@router.get("/orders")
def orders_page(request: Request, session: SessionDep, user: ConsoleUser, status: str | None = None):
    rows = order_summaries(session, user, status=status, limit=100)
    products = list(session.scalars(select(Product).order_by(Product.sku))) if user.role == "dealer" else []
    return page(request, "orders.html", user, orders=rows, products=products, status=status)


@router.post("/orders")
async def place_order(request: Request, user: ConsoleUser, client: TemporalDep, settings: SettingsDep,
                      sku: Annotated[str, Form()], quantity: Annotated[int, Form()]):
    if user.role != "dealer":
        raise HTTPException(403, "only dealers place orders")
    sessions = request.app.state.sessions
    try:
        body = OrderCreate(lines=[OrderLineIn(sku=sku, quantity=quantity)])
        placed = await orchestration.place_order(client=client, task_queue=settings.task_queue,
                                                 sessions=sessions, user=user, body=body, idempotency_key=None)
    except (ValueError, OrderInputError, HTTPException) as e:
        message = str(getattr(e, "detail", None) or e)

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
        raise HTTPException(404, "order not found")
    return page(request, "order.html", user, order=order_read(session, order))
