"""What a workflow asks of a person, and what the person answered: reused by every process that needs a human decision."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TaskSpec:
    """What a workflow asks of a person. Reused by every process that needs a human decision."""
    task_id: str
    kind: str
    title: str
    subject_type: str
    subject_id: str
    assignee_role: str
    outcomes: list[str]
    sla_seconds: int
    escalate_to: str | None = None
    dealer_id: int | None = None
    payload: dict = field(default_factory=dict)
    assignee_user_id: int | None = None
    not_by: list[str] = field(default_factory=list)  # four eyes: these people may not complete it


@dataclass
class CompleteTaskInput:
    task_id: str
    outcome: str
    actor: str
    comment: str = ""


@dataclass
class TaskResult:
    task_id: str
    outcome: str
    actor: str
    comment: str = ""


@dataclass
class EscalationResult:
    """What the database says after an escalation: a completion recorded there wins."""
    escalated: bool
    completed: TaskResult | None = None


@dataclass
class StepFailedInput:
    """A step of a process failed for good: list it for HQ, show it on the task a person completed
    (when one did) and tell the role and the person who acted."""
    workflow_id: str
    workflow_type: str
    activity: str
    error: str
    subject: str | None = None
    link: str | None = None
    notify_role: str | None = None
    actor: str | None = None  # the username of the person whose decision could not be applied
    task_id: str | None = None


def task_workflow_id(task_id: str) -> str:
    return f"task-{task_id}"
