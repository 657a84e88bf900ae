"""Completing a human task: a workflow update, so the answer is validated by the task's workflow."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (Client)
from dealerflow.core.errors import Conflict, Forbidden, Invalid
from dealerflow.shared import human_tasks as tasks
from dealerflow.contracts import CompleteTaskInput
from dealerflow.models import HumanTask, User
from workflows import HumanTaskWorkflow
from dealerflow.contracts import task_workflow_id
from api.tasks.schemas import TaskComplete
from api.temporal_calls import run_update



class OutcomeRefused(Invalid):
    def __init__(self, message: str):
        super().__init__(message, field="outcome")


async def complete_task(*, client: Client, sessions: sessionmaker[Session], user: User, task: HumanTask,
                        body: TaskComplete) -> None:
    if user.username in task.payload.get("not_by", ()):
        raise Forbidden("you approved the first step: a second approver must decide")
    if not tasks.may_complete(user, task):
        raise Forbidden(f"this task is for role {task.assignee_role}"
                            + (f" or {task.escalated_to_role}" if task.escalated_to_role else ""))
    if task.status != "open":
        raise Conflict(f"task is already {task.status}")
    if body.outcome not in task.outcomes:
        raise Invalid(f"must be one of {', '.join(task.outcomes)}", field="outcome")
    handle = client.get_workflow_handle(task_workflow_id(str(task.id)))
    await run_update(handle, HumanTaskWorkflow.complete, CompleteTaskInput(
        task_id=str(task.id), outcome=body.outcome, actor=user.username, comment=body.comment),
        refusals={"TaskAlreadyCompleted": Conflict, "SameApprover": Forbidden, "InvalidOutcome": OutcomeRefused},
        ended=Conflict("task is already completed"))
