"""Shapes of rule governance: replay reports, proposals, versions and shadows."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


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
