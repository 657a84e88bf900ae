"""The audit trail of rule changes: one row per step (proposed, approved, rejected, stale, deployed,
emergency, shadow started and ended), written in the transaction of the step itself."""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.models import RuleAudit

log = logging.getLogger("dealerflow.rules")


def record(session: Session, *, ruleset: str, action: str, actor: str, proposal_id: uuid.UUID | None = None,
           version: int | None = None, sha256: str | None = None, note: str = "") -> None:
    session.add(RuleAudit(ruleset=ruleset, action=action, actor=actor, proposal_id=proposal_id, version=version,
                          sha256=sha256, note=note))
    if action == "emergency":  # loudly: the log too, at warning level
        log.warning("EMERGENCY rule deploy by %s: %s v%s (%s): %s", actor, ruleset, version, sha256, note)


def trail(session: Session, ruleset: str | None = None, proposal_id: uuid.UUID | None = None,
          limit: int = 200) -> list[RuleAudit]:
    q = select(RuleAudit)
    if ruleset is not None:
        q = q.where(RuleAudit.ruleset == ruleset)
    if proposal_id is not None:
        q = q.where(RuleAudit.proposal_id == proposal_id)
    return list(session.scalars(q.order_by(RuleAudit.id.desc()).limit(limit)))
