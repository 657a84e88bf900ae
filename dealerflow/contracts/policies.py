"""A policy's rollout: plan, delivery waves, chasing, pilot, amendment, withdrawal, close; evidence reviews of its tasks."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .tasks import TaskResult, TaskSpec


@dataclass
class RolloutInput:
    policy_id: str
    version: int
    actor: str


@dataclass
class RolloutPlan:
    """What the rollout workflow needs from the policy file, read once by an activity."""
    policy_id: str
    version: int
    targets: int
    pilot_targets: int
    chase_offsets: list[int]  # seconds after a delivery at which to sweep (reminders, escalations, deadlines, dues)
    close_at: datetime  # end of the effective window
    pilot_seconds: int | None = None
    pilot_decided_by: str | None = None  # a role for an HQ decision; None: the promotion rules decide
    pilot_decision_sla_seconds: int | None = None


@dataclass
class DeliverInput:
    policy_id: str
    version: int
    now: datetime
    pilot_only: bool = False
    limit: int = 500


@dataclass
class SweepInput:
    policy_id: str
    version: int
    now: datetime


@dataclass
class SweepResult:
    reminded: int = 0
    escalated: int = 0
    overdue: int = 0
    tasks_reminded: int = 0
    tasks_overdue: int = 0
    escalation_tasks: list[TaskSpec] = field(default_factory=list)


@dataclass
class PilotInput:
    policy_id: str
    version: int
    now: datetime
    task_id: str = ""


@dataclass
class PilotVerdict:
    promote: bool
    reason: str
    figures: dict


@dataclass
class AmendInput:
    version: int
    actor: str


@dataclass
class AmendApplied:
    policy_id: str
    version: int
    now: datetime


@dataclass
class WithdrawInput:
    actor: str
    reason: str = ""


@dataclass
class PolicyStatusInput:
    """A policy's status (the rollout's stage), or the outcome of its pilot decision."""
    policy_id: str
    value: str


@dataclass
class CloseInput:
    policy_id: str
    status: str  # closed | withdrawn | cancelled
    actor: str
    now: datetime
    reason: str = ""


@dataclass
class CloseResult:
    open_task_workflows: list[str]
    figures: dict


@dataclass
class RolloutResult:
    policy_id: str
    version: int
    status: str


@dataclass
class EvidenceReviewInput:
    assignment_id: str
    attempt: int
    review: TaskSpec


@dataclass
class EvidenceOutcomeInput:
    assignment_id: str
    attempt: int
    task: TaskResult


def workflow_id_for(policy_id: str) -> str:
    return f"policy-{policy_id}"
