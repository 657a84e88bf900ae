"""Temporal activities: every side effect of a workflow. Thin: open a transaction, call the
domain service in `dealerflow`, commit."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from dealerflow.shared.notifications import Channel

from .credit import CreditActivities
from .diversion import DiversionActivities
from .masterdata import MasterDataActivities
from .logistics import LogisticsActivities
from .governance import GovernanceActivities
from .inventory import InventoryActivities
from .orders import OrderActivities
from .policies import PolicyActivities
from .service import ServiceActivities
from .settlement import SettlementActivities
from .tasks import TaskActivities
from .tiering import TieringActivities


def all_activities(sessions: sessionmaker[Session], channels: list[Channel] | None = None) -> list:
    o, t = OrderActivities(sessions), TaskActivities(sessions)
    return [*o.all(), t.open_task, t.record_task_completion, t.escalate_task,
            t.cancel_task, t.record_step_failure, *PolicyActivities(sessions, channels or []).all(),
            *SettlementActivities(sessions).all(), *TieringActivities(sessions).all(),
            *DiversionActivities(sessions).all(), *MasterDataActivities(sessions).all(),
            *LogisticsActivities(sessions).all(), *CreditActivities(sessions).all(),
            *GovernanceActivities(sessions).all(), *ServiceActivities(sessions).all(),
            *InventoryActivities(sessions).all()]
