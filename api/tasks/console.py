"""Console pages of human tasks: the inbox and a task's page, where a person decides."""
from __future__ import annotations

from typing import Annotated
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
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
from api.pages import refusal, ConsoleUser, page


router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/tasks")
def inbox(request: Request, session: SessionDep, user: ConsoleUser, status: str = "open"):
    status = status if status in ("open", "completed") else "open"
    rows = [task_read(session, t) for t in tasks.inbox(session, user, status=status)]
    return page(request, "inbox.html", user, tasks=rows, status=status)


def _task_page(request, session, user, task_id, error=None, status_code=200):
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
        raise NotFound("task not found")
    try:
        await temporal.complete_task(client=client, sessions=sessions, user=user, task=task,
                                          body=TaskComplete(outcome=outcome, comment=comment))
    except DomainError as e:
        message, status_code = refusal(e, request)

        def again():
            with sessions() as session:
                return _task_page(request, session, user, task_id, error=message, status_code=status_code)
        return await run_in_threadpool(again)
    return RedirectResponse("/console/tasks", status_code=303)
