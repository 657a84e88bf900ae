"""Processes whose steps keep failing or failed for good: one list for HQ and admin, with the error.

Two paths write it. The worker's activity interceptor records a step that keeps failing (a retryable
error at attempt N and later) and a step that failed for good; a later success of the step resolves
its row. A workflow that catches a permanent failure records what it did about it (the statement
shows it, finance was told) on the same row. HQ and admin are told once per failing process."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.contracts.tasks import StepFailedInput
from dealerflow.models import HumanTask, ProcessFailure, TaskEvent, User
from dealerflow.shared.notifications import notify

FAILING_AFTER = 5  # attempts of one step before its process is listed as failing
WATCHERS = ("hq", "admin")
MAX_ERROR = 2000


def _clean(text: str, limit: int) -> str:
    return text.replace("\x00", "\\0")[:limit]


def record(session: Session, *, workflow_id: str, workflow_type: str, activity: str, error: str,
           attempts: int = 1, failed: bool, subject: str | None = None, link: str | None = None,
           now: datetime | None = None) -> None:
    """Upsert the row of this workflow's step: failing (still retried) or failed (for good). A failed
    step stays failed when a late retry reports it failing again."""
    now = now or datetime.now(timezone.utc)
    values = dict(workflow_id=workflow_id, workflow_type=workflow_type, activity=activity,
                  state="failed" if failed else "failing", attempts=attempts, error=_clean(error, MAX_ERROR),
                  subject=subject and _clean(subject, 200), link=link and _clean(link, 300), first_at=now,
                  last_at=now, resolved_at=None)
    stmt = insert(ProcessFailure).values(**values)
    excluded = stmt.excluded
    keep_failed = ProcessFailure.state == "failed"
    session.execute(stmt.on_conflict_do_update(constraint="failure_once", set_={
        "state": case((excluded.state == "failed", "failed"),
                      (keep_failed & ProcessFailure.resolved_at.is_(None), "failed"), else_=excluded.state),
        "attempts": func.greatest(ProcessFailure.attempts, excluded.attempts),
        "error": excluded.error, "last_at": excluded.last_at, "resolved_at": None,
        "subject": func.coalesce(excluded.subject, ProcessFailure.subject),
        "link": func.coalesce(excluded.link, ProcessFailure.link),
        "first_at": case((ProcessFailure.resolved_at.is_not(None), excluded.first_at),
                         else_=ProcessFailure.first_at)}))
    what = f"{workflow_type} {workflow_id}: {activity} " + ("failed" if failed else f"keeps failing ({attempts} attempts)")
    for role in WATCHERS:
        notify(session, role=role, kind="process_failure", title=_clean(what, 300), body=_clean(error, 300),
               link="/console/failures", dedup_key=_clean(f"process-failing:{role}:{workflow_id}", 200))


def resolve(session: Session, *, workflow_id: str, activity: str, now: datetime | None = None) -> None:
    """The step succeeded after all (a later attempt): its process leaves the list."""
    session.execute(update(ProcessFailure).where(
        ProcessFailure.workflow_id == workflow_id, ProcessFailure.activity == activity,
        ProcessFailure.state == "failing").values(state="resolved", resolved_at=now or datetime.now(timezone.utc)))


def close(session: Session, failure_id: int, *, actor: str, now: datetime | None = None) -> ProcessFailure | None:
    """HQ has dealt with it: the row leaves the list (kept, resolved, with who closed it)."""
    row = session.get(ProcessFailure, failure_id)
    if row is not None and row.state != "resolved":
        row.state, row.resolved_at = "resolved", now or datetime.now(timezone.utc)
        row.error = _clean(f"{row.error}\n(closed by {actor})", MAX_ERROR + 100)
    return row


def listing(session: Session, *, include_resolved: bool = False, limit: int = 200) -> list[ProcessFailure]:
    q = select(ProcessFailure).order_by(ProcessFailure.last_at.desc()).limit(limit)
    if not include_resolved:
        q = q.where(ProcessFailure.state != "resolved")
    return list(session.scalars(q))


def as_dict(row: ProcessFailure) -> dict:
    return {"id": row.id, "workflow_id": row.workflow_id, "workflow_type": row.workflow_type,
            "activity": row.activity, "state": row.state, "attempts": row.attempts, "error": row.error,
            "subject": row.subject, "link": row.link, "first_at": row.first_at, "last_at": row.last_at,
            "resolved_at": row.resolved_at}


def _key(*parts: str) -> str:
    return "step-failed:" + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def step_failed(session: Session, inp: StepFailedInput, *, now: datetime | None = None) -> None:
    """A workflow caught a step that failed for good: the list shows it, the task whose decision could
    not be applied says so, and the role and the person who acted are told (once each)."""
    record(session, workflow_id=inp.workflow_id, workflow_type=inp.workflow_type, activity=inp.activity,
           error=inp.error, failed=True, subject=inp.subject, link=inp.link, now=now)
    title = _clean(f"Failed: {inp.subject or inp.workflow_id}: {inp.error}", 300)
    link = inp.link or (f"/console/tasks/{inp.task_id}" if inp.task_id else "/console/failures")
    if inp.task_id:
        task = session.get(HumanTask, uuid.UUID(inp.task_id))
        if task is not None:
            task.payload = {**task.payload, "failure": _clean(inp.error, MAX_ERROR)}
            session.add(TaskEvent(task_id=task.id, actor="system", action="failed",
                                  detail={"step": inp.activity, "error": _clean(inp.error, MAX_ERROR)}))
    if inp.actor:
        user_id = session.scalar(select(User.id).where(User.username == inp.actor))
        if user_id is not None:
            notify(session, user_id=user_id, kind="process_failure", title=title, body=_clean(inp.error, 2000),
                   link=link, dedup_key=_key(inp.workflow_id, inp.activity, inp.task_id or "", "user", inp.actor))
    if inp.notify_role:
        notify(session, role=inp.notify_role, kind="process_failure", title=title, body=_clean(inp.error, 2000),
               link=link, dedup_key=_key(inp.workflow_id, inp.activity, inp.task_id or "", "role", inp.notify_role))
