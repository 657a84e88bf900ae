"""Console pages of human tasks: the inbox and a task's page, where a person decides."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from dealerflow.core.errors import DomainError
from dealerflow.core.errors import NotFound
from dealerflow.policies import tasks as policy_tasks
from dealerflow.shared import human_tasks as tasks
from api.tasks import temporal
from api.deps import SessionDep, TemporalDep
from api.tasks.schemas import TaskComplete
from api.policies.views import assignment_read
from api.orders.views import order_read, visible_order
from api.scope import parse_uuid
from api.tasks.views import task_read
from api.pages import back, label_of, refusal, translator, ConsoleUser, page
from api.paging import count, paging
from api.diversion.views import case_read, visible_case
from api.tasks.notifications import notification_read
from dealerflow.models import ROLES, Notification
from dealerflow.shared.notifications import addressed_to, mark_read


router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/tasks")
def inbox(request: Request, session: SessionDep, user: ConsoleUser, status: str = "open", kind: str = "",
          role: str = ""):
    """The inbox: open or completed tasks, of one kind or for one role, a page at a time."""
    status = status if status in ("open", "completed") else "open"
    kinds = tasks.inbox_kinds(session, user)
    kind = kind if kind in kinds else ""
    role = role if role in ROLES and role != "dealer" else ""
    filters = dict(status=status, kind=kind or None, role=role or None)
    pager = paging(request, tasks.inbox_count(session, user, **filters), status=status, kind=kind, role=role)
    rows = [task_read(session, t) for t in tasks.inbox(session, user, limit=pager.limit, offset=pager.offset,
                                                       **filters)]
    return page(request, "inbox.html", user, tasks=rows, status=status, kind=kind, role=role, kinds=kinds,
                roles=[r for r in ROLES if r != "dealer"], pager=pager)


def _task_page(request, session, user, task_id, error=None, status_code=200, form=None):
    tid = parse_uuid(task_id)
    task = tasks.visible(session, user, tid) if tid else None
    if task is None:
        raise NotFound("task not found")
    order = visible_order(session, user, task.subject_id) if task.subject_type == "order" else None
    assignment = None
    if task.kind == "evidence_review":  # the reviewer decides on what was submitted
        aid = parse_uuid(str(task.payload.get("assignment_id", "")))
        a = policy_tasks.assignment_of(session, aid, None) if aid else None
        assignment = assignment_read(session, a, with_evidence=True) if a else None
    return page(request, "task.html", user, status_code, task=task_read(session, task, with_history=True),
                order=order_read(session, order) if order else None, assignment=assignment,
                may_complete=tasks.may_complete(user, task) and task.status == "open", error=error,
                form=form or {}, confirm_outcome={k: v for (kind, k), v in CONFIRMED.items() if kind == task.kind},
                case=_case_facts(session, user, task))


def _case_facts(session, user, task):
    """The case of a diversion investigation, as its task page shows it."""
    if task.kind != "diversion_investigation":
        return None
    case = visible_case(session, user, str(task.payload.get("case_id", "")))
    return case_read(session, case) if case is not None else None


@router.get("/tasks/{task_id}")
def task_page(task_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    return _task_page(request, session, user, task_id)


# Outcomes that move money or penalise a dealer: sent from the console only with the confirmation
# of the task page's form ticked (the browser's `required` is not relied upon).
CONFIRMED = {("settlement_approval", "approve"): "confirmed", ("diversion_investigation", "confirm"): "reviewed"}


@router.post("/tasks/{task_id}")
async def complete_task(task_id: str, request: Request, user: ConsoleUser, client: TemporalDep,
                        outcome: Annotated[str, Form()], comment: Annotated[str, Form(max_length=2000)] = "",
                        confirmed: Annotated[str, Form()] = "", reviewed: Annotated[str, Form()] = ""):
    sessions = request.app.state.sessions
    _ = translator(request)

    def load():
        tid = parse_uuid(task_id)
        with sessions() as session:
            return tasks.visible(session, user, tid) if tid else None

    task = await run_in_threadpool(load)
    if task is None:
        raise NotFound("task not found")

    def again(message: str, status_code: int):
        def render():
            with sessions() as session:
                return _task_page(request, session, user, task_id, error=message, status_code=status_code,
                                  form={"comment": comment, "outcome": outcome})
        return run_in_threadpool(render)

    ticked = {"confirmed": confirmed, "reviewed": reviewed}.get(CONFIRMED.get((task.kind, outcome), ""), "x")
    if not ticked.strip():
        return await again(_("Tick the confirmation first: this decision cannot be taken back."), 422)
    try:
        await temporal.complete_task(client=client, sessions=sessions, user=user, task=task,
                                          body=TaskComplete(outcome=outcome, comment=comment))
    except DomainError as e:
        message, status_code = refusal(e, request)
        return await again(message, status_code)
    return back("/console/tasks", flash=_("“%(title)s”: %(outcome)s.", title=task.title,
                                          outcome=label_of(request, outcome)))


# --- notifications -----------------------------------------------------------------------------

@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, user: ConsoleUser, show: str = ""):
    """The user's notifications, newest first; `show=unread`: those not read yet."""
    unread_only = show == "unread"
    q = select(Notification).where(addressed_to(user))
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    pager = paging(request, count(session, q), show="unread" if unread_only else "")
    rows = session.scalars(q.order_by(Notification.id.desc()).limit(pager.limit).offset(pager.offset)).all()
    return page(request, "notifications.html", user, notifications=[notification_read(n) for n in rows],
                pager=pager, show="unread" if unread_only else "")


@router.post("/notifications/read")
def read_all(request: Request, session: SessionDep, user: ConsoleUser):
    n = mark_read(session, user, now=datetime.now(timezone.utc))
    session.commit()
    _ = translator(request)
    return back("/console/notifications", flash=_("%(n)s notification(s) marked read.", n=n))


@router.post("/notifications/{notification_id}/read")
def read_one(notification_id: int, request: Request, session: SessionDep, user: ConsoleUser):
    """Marks one of the user's notifications read."""
    if session.scalar(select(Notification.id).where(Notification.id == notification_id,
                                                    addressed_to(user))) is None:
        raise NotFound("notification not found")  # another user's: as if there were none
    mark_read(session, user, now=datetime.now(timezone.utc), notification_id=notification_id)
    session.commit()
    _ = translator(request)
    return back("/console/notifications", flash=_("Notification marked read."))
