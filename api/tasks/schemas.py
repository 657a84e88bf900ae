"""Request and response shapes of human tasks."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from pydantic import BaseModel, StringConstraints
from api.schemas import Strict


class TaskRead(BaseModel):
    id: str
    kind: str
    title: str
    status: str
    subject_type: str
    subject_id: str
    assignee_role: str
    escalated_to_role: str | None
    outcomes: list[str]
    payload: dict
    due_at: datetime
    overdue: bool
    outcome: str | None
    comment: str | None
    completed_by: str | None
    completed_at: datetime | None
    history: list[dict] = []


class TaskComplete(Strict):
    outcome: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class NotificationRead(BaseModel):
    id: int
    kind: str
    title: str
    body: str | None
    link: str | None
    created_at: str  # ISO 8601 with offset
    read: bool
