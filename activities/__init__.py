"""Temporal activities: every side effect of a workflow. Thin: open a transaction, call the
domain service in `dealerflow`, commit."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from dealerflow.shared.notifications import Channel

from .diversion import DiversionActivities
from .inventory import InventoryActivities
from .orders import OrderActivities
from .policies import PolicyActivities
from .settlement import SettlementActivities
from .tasks import TaskActivities
from .tiering import TieringActivities


def all_activities(sessions: sessionmaker[Session], channels: list[Channel] | None = None) -> list:
    o, t = OrderActivities(sessions), TaskActivities(sessions)
    return [o.decide_credit, o.apply_review, t.open_task, t.record_task_completion, t.escalate_task,
            t.cancel_task, t.record_step_failure, *PolicyActivities(sessions, channels or []).all(),
            *SettlementActivities(sessions).all(), *TieringActivities(sessions).all(),
            *DiversionActivities(sessions).all(), *InventoryActivities(sessions).all()]
