"""What crosses the rule proposal workflow's boundary."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .tasks import TaskResult, TaskSpec


@dataclass
class RuleProposalInput:
    proposal_id: str
    review: TaskSpec  # the second person's task: diff, tests and impact in its payload


@dataclass
class DecideProposalInput:
    proposal_id: str
    result: TaskResult


@dataclass
class ProposalSweepInput:
    now: datetime | None = None


@dataclass
class ProposalSweepResult:
    starts: list[RuleProposalInput] = field(default_factory=list)


def workflow_id_for(proposal_id: str) -> str:
    return f"rule-proposal-{proposal_id}"
