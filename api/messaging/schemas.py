"""Shapes of announcements and conversations."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from api.schemas import Strict


class AnnouncementCreate(Strict):
    title: Annotated[str, StringConstraints(max_length=200)]
    body: Annotated[str, StringConstraints(max_length=20000)]
    target: Annotated[str, StringConstraints(max_length=2000)] = "true"
    ack_required: bool = False


class AttachmentRead(BaseModel):
    id: int
    kind: str
    filename: str
    content_type: str
    size: int


class AnnouncementRead(BaseModel):
    id: int
    title: str
    body: str
    target: str
    ack_required: bool
    recipients: int
    published_by: str
    published_at: datetime
    read_at: datetime | None = None
    acked_at: datetime | None = None
    read: int | None = None
    attachments: list[AttachmentRead] = []


class MessageCreate(Strict):
    text: Annotated[str, StringConstraints(max_length=5000)]


class ConversationMessageRead(BaseModel):
    id: int
    author: str
    from_dealer: bool
    body: str
    created_at: datetime
    attachments: list[AttachmentRead] = []


class ThreadSummary(BaseModel):
    dealer_code: str
    dealer_name: str
    last_at: datetime
    unread: int
