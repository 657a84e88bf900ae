"""Temporal workflows: deterministic orchestration only. No I/O, clocks or randomness here:
every side effect is an activity (see activities/)."""
from .evidence_review import EvidenceReviewWorkflow
from .human_task import HumanTaskWorkflow
from .order import OrderWorkflow
from .policy_rollout import PolicyRolloutWorkflow
from .settlement import SettlementScheduleWorkflow, SettlementWorkflow

ALL_WORKFLOWS = [OrderWorkflow, HumanTaskWorkflow, PolicyRolloutWorkflow, EvidenceReviewWorkflow, SettlementWorkflow,
                 SettlementScheduleWorkflow]
