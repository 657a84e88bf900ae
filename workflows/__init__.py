"""Temporal workflows: deterministic orchestration only. No I/O, clocks or randomness here:
every side effect is an activity (see activities/)."""
from .diversion import CaseWorkflow, DiversionSweepWorkflow
from .evidence_review import EvidenceReviewWorkflow
from .human_task import HumanTaskWorkflow
from .inventory import ForecastWorkflow, InventoryHealthWorkflow
from .order import OrderWorkflow
from .policy_rollout import PolicyRolloutWorkflow
from .settlement import SettlementScheduleWorkflow, SettlementWorkflow
from .tiering import RetieringWorkflow, TieringScheduleWorkflow

ALL_WORKFLOWS = [OrderWorkflow, HumanTaskWorkflow, PolicyRolloutWorkflow, EvidenceReviewWorkflow, SettlementWorkflow,
                 SettlementScheduleWorkflow, RetieringWorkflow, TieringScheduleWorkflow, CaseWorkflow,
                 DiversionSweepWorkflow, InventoryHealthWorkflow, ForecastWorkflow]
