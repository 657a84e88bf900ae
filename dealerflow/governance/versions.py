"""A ruleset's version timeline: past, current, scheduled and shadow versions, as the console and
the API list them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.models import RuleVersion
from dealerflow.shared import rulebook


@dataclass(frozen=True)
class Entry:
    version: RuleVersion
    state: str  # current, scheduled, past, shadow, shadow_ended


def timeline(session: Session, name: str, now: datetime | None = None) -> list[Entry]:
    """Every version of `name`, newest first, each with where it stands at `now` (default: the
    database's clock)."""
    rows = rulebook.history(session, name)
    now = now or session.scalar(select(func.now()))
    current = rulebook.active_version_at(session, name, now)
    out = []
    for r in sorted(rows, key=lambda r: -r.version):
        if r.mode == "shadow":
            state = "shadow_ended" if r.shadow_ended_at else "shadow"
        elif current is not None and r.version == current.version:
            state = "current"
        elif r.effective_from is not None and r.effective_from > now:
            state = "scheduled"
        else:
            state = "past"
        out.append(Entry(r, state))
    return out
