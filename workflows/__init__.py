"""Temporal workflows: deterministic orchestration only. No I/O, clocks or randomness here:
every side effect is an activity (see activities/)."""
from .credit import CreditIncreaseWorkflow, CreditScheduleWorkflow, CreditScoringWorkflow
from .credit_limit import CreditLimitChangeWorkflow
from .diversion import CaseWorkflow, DiversionSweepWorkflow
from .evidence_review import EvidenceReviewWorkflow
from .human_task import HumanTaskWorkflow
from .inventory import ForecastWorkflow, InventoryHealthWorkflow
from .notifications import NotificationDispatchWorkflow
from .order import OrderSweepWorkflow, OrderWorkflow
from .policy_rollout import PolicyRolloutWorkflow
from .shipment import ShipmentWorkflow, TrackingPollWorkflow
from .rule_proposal import RuleProposalSweepWorkflow, RuleProposalWorkflow
from .service import CareDailyWorkflow, RedemptionWorkflow, ServiceRequestWorkflow, ServiceSweepWorkflow
from .settlement import SettlementScheduleWorkflow, SettlementWorkflow
from .tiering import RetieringWorkflow, TieringScheduleWorkflow

ALL_WORKFLOWS = [OrderWorkflow, HumanTaskWorkflow, PolicyRolloutWorkflow, EvidenceReviewWorkflow, SettlementWorkflow,
                 SettlementScheduleWorkflow, RetieringWorkflow, TieringScheduleWorkflow, CaseWorkflow,
                 DiversionSweepWorkflow, CreditLimitChangeWorkflow, OrderSweepWorkflow, ShipmentWorkflow,
                 TrackingPollWorkflow, CreditScoringWorkflow, CreditIncreaseWorkflow, CreditScheduleWorkflow,
                 RuleProposalWorkflow, ServiceRequestWorkflow, ServiceSweepWorkflow, CareDailyWorkflow,
                 RedemptionWorkflow, InventoryHealthWorkflow, ForecastWorkflow, NotificationDispatchWorkflow,
                 RuleProposalSweepWorkflow]
