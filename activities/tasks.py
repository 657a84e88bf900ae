"""Human-task side effects, shared by every workflow that asks a person for a decision."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.shared import failures, human_tasks as tasks
from dealerflow.contracts import EscalationResult, StepFailedInput, TaskResult, TaskSpec


class TaskActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def open_task(self, spec: TaskSpec) -> None:
        with self.sessions.begin() as session:
            tasks.open_task(session, spec, workflow_id=activity.info().workflow_id)

    @activity.defn
    def record_task_completion(self, result: TaskResult) -> None:
        with self.sessions.begin() as session:
            tasks.record_completion(session, result)

    @activity.defn
    def cancel_task(self, result: TaskResult) -> None:
        with self.sessions.begin() as session:
            tasks.cancel(session, result.task_id, result.actor, result.comment)

    @activity.defn
    def escalate_task(self, spec: TaskSpec) -> EscalationResult:
        with self.sessions.begin() as session:
            return tasks.escalate(session, spec.task_id, spec.escalate_to)

    @activity.defn
    def record_step_failure(self, inp: StepFailedInput) -> None:
        """A workflow caught a step that failed for good: list it, show it on the task, tell people."""
        with self.sessions.begin() as session:
            failures.step_failed(session, inp)
