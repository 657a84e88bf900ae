"""A credit limit raise waiting for a second person: what its workflow is given and what it applies."""
from __future__ import annotations

from dataclasses import dataclass

from .tasks import TaskResult, TaskSpec


@dataclass
class LimitChangeInput:
    change_id: str
    dealer_code: str
    review: TaskSpec


@dataclass
class LimitChangeOutcomeInput:
    change_id: str
    task: TaskResult


def limit_change_workflow_id(change_id: str) -> str:
    return f"credit-limit-{change_id}"
