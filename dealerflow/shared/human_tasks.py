"""Human tasks: the one mechanism by which any workflow asks a person for a decision.

A workflow opens a task (activity), waits for its completion (a workflow update sent by the API)
under an SLA, and escalates when the SLA passes. This module is the database side of it."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.contracts import EscalationResult, TaskResult, TaskSpec
from dealerflow.models import HumanTask, TaskEvent, User
from dealerflow.shared.notifications import notify


class TaskConflict(Exception):
    """The task is no longer open."""


def open_task(session: Session, spec: TaskSpec, *, workflow_id: str, now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    inserted = session.execute(insert(HumanTask).values(
        id=uuid.UUID(spec.task_id), kind=spec.kind, title=spec.title, subject_type=spec.subject_type,
        subject_id=spec.subject_id, dealer_id=spec.dealer_id, workflow_id=workflow_id,
        assignee_role=spec.assignee_role, assignee_user_id=spec.assignee_user_id, outcomes=spec.outcomes, payload=spec.payload,
        due_at=now + timedelta(seconds=spec.sla_seconds), status="open", reminders_sent=0,
    ).on_conflict_do_nothing(index_elements=["id"]))
    if inserted.rowcount:  # retried activities add no second event or notification
        session.add(TaskEvent(task_id=uuid.UUID(spec.task_id), actor="system", action="opened",
                              detail={"role": spec.assignee_role, "sla_seconds": spec.sla_seconds}))
        notify(session, role=None if spec.assignee_user_id else spec.assignee_role, user_id=spec.assignee_user_id,
               kind="task", title=f"New task: {spec.title}", link=f"/console/tasks/{spec.task_id}",
               dedup_key=f"task-opened:{spec.task_id}")


def record_completion(session: Session, result: TaskResult) -> None:
    done = session.execute(update(HumanTask).where(
        HumanTask.id == uuid.UUID(result.task_id), HumanTask.status == "open").values(
        status="completed", outcome=result.outcome, comment=result.comment,
        completed_by=result.actor, completed_at=datetime.now(timezone.utc)))
    if done.rowcount:
        session.add(TaskEvent(task_id=uuid.UUID(result.task_id), actor=result.actor, action="completed",
                              detail={"outcome": result.outcome, "comment": result.comment}))


def cancel(session: Session, task_id: str, actor: str, reason: str) -> None:
    done = session.execute(update(HumanTask).where(
        HumanTask.id == uuid.UUID(task_id), HumanTask.status == "open").values(status="cancelled"))
    if done.rowcount:
        session.add(TaskEvent(task_id=uuid.UUID(task_id), actor=actor, action="cancelled", detail={"reason": reason}))


def escalate(session: Session, task_id: str, escalate_to: str | None) -> EscalationResult:
    """SLA passed: remind the assignees and hand the task to the escalation role too.
    If the database already holds a completion (its update never reached the workflow), return it."""
    task = session.scalars(select(HumanTask).where(HumanTask.id == uuid.UUID(task_id)).with_for_update()).one()
    if task.status == "completed":
        return EscalationResult(False, TaskResult(task_id, task.outcome, task.completed_by, task.comment or ""))
    if task.escalated_to_role is not None or task.status != "open":
        return EscalationResult(False)
    task.reminders_sent += 1
    task.escalated_to_role = escalate_to
    session.add(TaskEvent(task_id=task.id, actor="system", action="reminded",
                          detail={"role": task.assignee_role}))
    notify(session, role=task.assignee_role, kind="reminder", title=f"Overdue: {task.title}",
           link=f"/console/tasks/{task_id}", dedup_key=f"task-reminder:{task_id}")
    if escalate_to:
        session.add(TaskEvent(task_id=task.id, actor="system", action="escalated", detail={"to": escalate_to}))
        notify(session, role=escalate_to, kind="escalation", title=f"Escalated to you: {task.title}",
               link=f"/console/tasks/{task_id}", dedup_key=f"task-escalated:{task_id}")
    return EscalationResult(True)


# --- who sees and who may complete -----------------------------------------------------------

def _mine(user: User):
    """Tasks for my role, unless assigned to one person; and tasks escalated to my role."""
    return or_(and_(HumanTask.assignee_role == user.role, HumanTask.assignee_user_id.is_(None)),
               HumanTask.assignee_user_id == user.id, HumanTask.escalated_to_role == user.role)


def inbox(session: Session, user: User, *, status: str | None = "open", limit: int = 200, offset: int = 0,
          kind: str | None = None, role: str | None = None) -> list[HumanTask]:
    if user.role == "dealer":
        return []
    q = _inbox_query(select(HumanTask), user, status=status, kind=kind, role=role)
    return list(session.scalars(q.order_by(HumanTask.due_at, HumanTask.id).limit(limit).offset(offset)))


def inbox_count(session: Session, user: User, *, status: str | None = "open", kind: str | None = None,
                role: str | None = None) -> int:
    """How many tasks `inbox` would list without a limit, counted in SQL."""
    if user.role == "dealer":
        return 0
    q = _inbox_query(select(func.count()).select_from(HumanTask), user, status=status, kind=kind, role=role)
    return session.scalar(q) or 0


def inbox_kinds(session: Session, user: User) -> list[str]:
    """The kinds of task the user's inbox has held, for its filter."""
    if user.role == "dealer":
        return []
    q = _inbox_query(select(HumanTask.kind).distinct(), user, status=None, kind=None, role=None)
    return sorted(session.scalars(q))


def _inbox_query(q, user: User, *, status, kind, role):
    if user.role != "admin":
        q = q.where(_mine(user))
    if status:
        q = q.where(HumanTask.status == status)
    if kind:
        q = q.where(HumanTask.kind == kind)
    if role:  # the role a task is for: assigned to it, or escalated to it
        q = q.where(or_(HumanTask.assignee_role == role, HumanTask.escalated_to_role == role))
    return q


def visible(session: Session, user: User, task_id: uuid.UUID) -> HumanTask | None:
    """Approver roles see every task (to look up history); dealers see none."""
    if user.role == "dealer":
        return None
    return session.get(HumanTask, task_id)


def may_complete(user: User, task: HumanTask) -> bool:
    if user.username in task.payload.get("not_by", ()):  # four eyes: a second approver is someone else
        return False
    if task.assignee_user_id is not None:
        return task.assignee_user_id == user.id
    return user.role in (task.assignee_role, task.escalated_to_role)


def events(session: Session, task_id: uuid.UUID) -> list[TaskEvent]:
    return list(session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)))
