"""Read models of human tasks."""
from __future__ import annotations

from datetime import datetime, timezone
from sqlalchemy.orm import Session
from dealerflow.shared import human_tasks as tasks
from dealerflow.models import HumanTask
from api.tasks.schemas import TaskRead


def task_read(session: Session, task: HumanTask, *, with_history: bool = False) -> TaskRead:
    history = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
               for e in tasks.events(session, task.id)] if with_history else []
    return TaskRead(
        id=str(task.id), kind=task.kind, title=task.title, status=task.status,
        subject_type=task.subject_type, subject_id=task.subject_id, assignee_role=task.assignee_role,
        escalated_to_role=task.escalated_to_role, outcomes=task.outcomes, payload=task.payload,
        due_at=task.due_at, overdue=task.status == "open" and task.due_at < datetime.now(timezone.utc),
        outcome=task.outcome, comment=task.comment, completed_by=task.completed_by,
        completed_at=task.completed_at, history=history)
