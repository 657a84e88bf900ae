"""Request and response shapes of dealer requests."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints

from api.schemas import Out, Strict


class CategoryRead(BaseModel):
    name: str
    title: str
    approval: bool


class Attachment(BaseModel):
    kind: str
    filename: str
    content_type: str
    size: int
    url: str


class MessageRead(BaseModel):
    id: int
    author: str
    author_role: str
    body: str
    created_at: datetime
    attachments: list[Attachment]


class ClockRead(BaseModel):
    clock: Literal["response", "resolution"]
    tier: str
    target_seconds: int = Field(description="working seconds")
    used_seconds: int = Field(description="working seconds used up to the last start of the clock")
    running: bool
    due_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    breached_at: datetime | None
    stopped_at: datetime | None
    met: bool | None


class RequestSummary(Out):
    id: str
    number: int
    dealer_code: str
    dealer_name: str
    category: str
    subject: str
    status: str
    tier: str
    assignee_role: str
    outcome: str | None
    satisfaction: int | None
    created_at: datetime
    due_at: datetime | None
    breached: bool
    closed_at: datetime | None


class RequestRead(RequestSummary):
    category_title: str
    approval: bool
    assignee: str | None
    escalate_to: str | None
    satisfaction_comment: str | None
    rated_at: datetime | None
    first_response_at: datetime | None
    reopened: int
    reopen_until: datetime | None
    rating_scale: list[int]
    clocks: list[ClockRead]
    messages: list[MessageRead]
    events: list[dict]


Text = Annotated[str, StringConstraints(max_length=5000)]


class StatusChange(Strict):
    status: Literal["in_progress", "waiting_dealer"]


class CloseRequest(Strict):
    outcome: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "resolved"
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class Rating(Strict):
    score: StrictInt = Field(description="on the service rule file's scale (1 to 5 as shipped)")
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class Reopen(Strict):
    text: Text


class SlaRow(BaseModel):
    key: str
    requests: int
    closed: int
    response_met: int
    response_breached: int
    resolution_met: int
    resolution_breached: int
    met_rate: float | None = Field(description="resolution targets met / decided (met or breached)")
    satisfaction: float | None
    rated: int


class BacklogRow(BaseModel):
    age: str
    open: int
    breached: int


class SlaReport(Out):
    since: datetime
    until: datetime
    by_tier: list[SlaRow]
    by_region: list[SlaRow]
    by_category: list[SlaRow]
    by_person: list[SlaRow]
    totals: dict[str, int]
    satisfaction: float | None
    backlog: list[BacklogRow]
    calendar_unknown_years: list[int] = []  # years chinese_calendar does not know: Monday to Friday assumed
    calendar_notes: list[str] = []
