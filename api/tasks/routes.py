from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import NotFound
from dealerflow.shared import human_tasks as tasks

from api.errors import responses
from api.tasks.temporal import complete_task
from api.deps import CurrentUser, SessionDep, TemporalDep
from api.tasks.schemas import TaskComplete, TaskRead
from api.scope import parse_uuid
from api.tasks.views import task_read

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


@router.get("", response_model=list[TaskRead])
def inbox(session: SessionDep, user: CurrentUser,
          status: Annotated[Literal["open", "completed", "cancelled"] | None, Query()] = "open"):
    """The caller's inbox: tasks for their role, or escalated to it."""
    return [task_read(session, t) for t in tasks.inbox(session, user, status=status)]


def _task(session, user, task_id: str):
    tid = parse_uuid(task_id)
    task = tasks.visible(session, user, tid) if tid else None
    if task is None:
        raise NotFound("task not found")
    return task


@router.get("/{task_id}", response_model=TaskRead)
def get_task(task_id: str, session: SessionDep, user: CurrentUser):
    return task_read(session, _task(session, user, task_id), with_history=True)


@router.post("/{task_id}/complete", response_model=TaskRead, responses=responses(409))
async def complete(task_id: str, body: TaskComplete, request: Request, user: CurrentUser, client: TemporalDep):
    sessions = request.app.state.sessions

    def load(read: bool):
        with sessions() as session:
            task = _task(session, user, task_id)
            return task_read(session, task, with_history=True) if read else task

    task = await run_in_threadpool(load, False)
    await complete_task(client=client, sessions=sessions, user=user, task=task, body=body)
    return await run_in_threadpool(load, True)
