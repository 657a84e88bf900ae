"""Shapes of rule governance: replay reports, proposals, versions and shadows."""
from __future__ import annotations

import uuid
from datetime import datetime

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints


class ReplayReportRead(BaseModel):
    id: uuid.UUID
    ruleset: str
    kind: str
    filename: str
    candidate_sha256: str
    since: datetime | None
    until: datetime | None
    totals: dict
    breakdown: list[dict]
    samples: list[dict]
    content_hash: str
    created_by: str
    created_at: datetime


class ProposalRead(BaseModel):
    id: uuid.UUID
    ruleset: str
    kind: str
    filename: str
    sha256: str
    base_version: int | None
    mode: str
    effective_from: datetime | None
    effective_until: datetime | None
    tests: list[dict]
    report_id: uuid.UUID | None
    status: str
    approver_role: str
    task_id: uuid.UUID | None
    proposed_by: str
    proposed_at: datetime
    comment: str
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None
    version: int | None
    diff: list[str] = []
    comments: list["CommentRead"] = []


class CommentRead(BaseModel):
    id: int
    author: str
    body: str
    at: datetime


class CommentCreate(BaseModel):
    model_config = {"extra": "forbid"}
    body: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ProposalWithdrawal(BaseModel):
    model_config = {"extra": "forbid"}
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ProposalDecision(BaseModel):
    model_config = {"extra": "forbid"}
    outcome: Literal["approve", "reject"]
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class VersionRead(BaseModel):
    ruleset: str
    version: int
    kind: str
    sha256: str
    filename: str
    deployed_by: str
    deployed_at: datetime
    mode: str
    effective_from: datetime | None
    effective_until: datetime | None
    shadow_ended_at: datetime | None
    proposal_id: uuid.UUID | None
    state: str


class ShadowDashboard(BaseModel):
    ruleset: str
    kind: str | None = None
    rulesets: list[str] = []
    shadows: list[dict]
    disagreements: list[dict]


class AuditRead(BaseModel):
    ruleset: str
    action: str
    actor: str
    proposal_id: uuid.UUID | None
    version: int | None
    sha256: str | None
    note: str
    at: datetime


class Deployed(BaseModel):
    ruleset: str
    version: int
    changed: bool
    sha256: str


ProposalRead.model_rebuild()
