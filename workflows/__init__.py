"""Temporal workflows: deterministic orchestration only. No I/O, clocks or randomness here:
every side effect is an activity (see activities/)."""
from .diversion import CaseWorkflow, DiversionSweepWorkflow
from .evidence_review import EvidenceReviewWorkflow
from .human_task import HumanTaskWorkflow
from .order import OrderWorkflow
from .policy_rollout import PolicyRolloutWorkflow
from .service import CareDailyWorkflow, RedemptionWorkflow, ServiceRequestWorkflow, ServiceSweepWorkflow
from .settlement import SettlementScheduleWorkflow, SettlementWorkflow
from .tiering import RetieringWorkflow, TieringScheduleWorkflow

ALL_WORKFLOWS = [OrderWorkflow, HumanTaskWorkflow, PolicyRolloutWorkflow, EvidenceReviewWorkflow, SettlementWorkflow,
                 SettlementScheduleWorkflow, RetieringWorkflow, TieringScheduleWorkflow, CaseWorkflow,
                 DiversionSweepWorkflow, ServiceRequestWorkflow, ServiceSweepWorkflow,
                 CareDailyWorkflow, RedemptionWorkflow]
