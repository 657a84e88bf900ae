"""Request and response shapes of policies, policy tasks and points."""
from __future__ import annotations

from typing import Annotated
from pydantic import AfterValidator, Field
from api.schemas import Strict
from datetime import datetime
from typing import Any
from api.schemas import Out


class QuestionCreate(Strict):
    question: Annotated[str, Field(min_length=1, max_length=2000)]


class AnswerCreate(Strict):
    answer: Annotated[str, Field(min_length=1, max_length=5000)]
    publish_to_faq: bool = False


def _plain_text(value: str) -> str:
    """Text a person wrote: no NUL or other control characters (line breaks and tabs are fine), not blank."""
    if any(c < " " and c not in "\n\r\t" or c == "\x7f" for c in value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class WithdrawBody(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_plain_text)]


class PolicyListed(Out):
    """A dealer's delivered policy (version, read, acknowledged…) or, for HQ, a policy file and its rollout."""
    id: str
    title: str | None = None
    status: str | None = None
    version: int | None = None
    delivered_at: datetime | None = None
    read: bool | None = None
    acknowledged: bool | None = None
    acknowledged_at: datetime | None = None
    acknowledge_by: datetime | None = None
    category: str | None = None
    deployed_version: int | None = None
    deployed_at: datetime | None = None
    published_version: int | None = None


class PolicyRead(Out):
    id: str
    version: int
    title: str
    category: str | None = None
    body: str
    body_html: str
    effective_from: str
    effective_to: str
    acknowledgment: dict
    tasks: list[dict]
    faq: list[dict]
    status: str | None = None  # staff
    my: dict | None = None  # a dealer's own state


class Acknowledgment(Out):
    policy_id: str
    version: int | None
    acknowledged_at: datetime | None
    late: bool


class QuestionRead(Out):
    id: int
    question: str
    asked_at: datetime | None
    answer: str | None
    answered_at: datetime | None
    in_faq: bool


class PolicyPreview(Out):
    policy_id: str
    version: int
    target: Any
    targets: int
    pilot_targets: int
    by_region: dict[str, int]
    sample: list[str]


class PolicyPublished(Out):
    policy_id: str
    version: int
    workflow_id: str
    action: str


class PolicyWithdrawn(Out):
    policy_id: str
    status: str


class PolicyStatus(Out):
    policy_id: str
    version: int
    title: str
    status: str
    pilot_decision: Any = None
    acknowledgment: dict
    by_region: Any
    tasks: Any
    conversion: Any
    silent: dict


class AssignmentRead(Out):
    id: str
    policy_id: str
    policy_title: str
    task_key: str
    title: str
    instructions: str
    evidence_required: list[str]
    points: int
    status: str
    due_at: datetime | None
    overdue: bool
    submissions: int
    review_comment: str | None
    accepted_at: datetime | None
    evidence: list[dict] | None = None


class PointsRead(Out):
    balance: int
    entries: list[dict]
