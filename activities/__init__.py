"""Temporal activities: every side effect of a workflow. Thin: open a transaction, call the
domain service in `dealerflow`, commit."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from .orders import OrderActivities
from .tasks import TaskActivities


def all_activities(sessions: sessionmaker[Session]) -> list:
    o, t = OrderActivities(sessions), TaskActivities(sessions)
    return [o.decide_credit, o.apply_review, t.open_task, t.record_task_completion, t.escalate_task]
