"""The audit of master data: one row per changed field (who, when, which field, before, after, and how:
api, console, import or approval), written in the transaction of the change, so a change and its
audit commit or fail together."""
from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from dealerflow.core.db import copy_rows
from dealerflow.models import MasterAudit

from .records import changed

RECORD_TYPES = ("dealer", "product", "user", "region")
VIA = ("api", "console", "import", "approval")


def record(session: Session, *, record_type: str, key: str, before: dict, after: dict, actor: str,
           via: str = "api", note: str | None = None) -> list[str]:
    """Audit what differs between `before` and `after` (a new record: `before` empty); the changed fields."""
    rows = audit_rows(record_type=record_type, key=key, before=before, after=after, actor=actor, via=via, note=note)
    write(session, rows)
    return [r["field"] for r in rows]


def audit_rows(*, record_type: str, key: str, before: dict, after: dict, actor: str, via: str,
               note: str | None = None) -> list[dict]:
    assert record_type in RECORD_TYPES and via in VIA
    return [dict(record_type=record_type, record_key=key, field=name, before=old, after=new, actor=actor, via=via,
                 note=note) for name, (old, new) in changed(before, after).items()]


COLUMNS = ("record_type", "record_key", "field", "before", "after", "actor", "via", "note")
COPY_FROM = 500  # more rows than this go in by COPY (an import), in the same transaction


def write(session: Session, rows: list[dict]) -> None:
    """Audit rows in the caller's transaction: a few by INSERT, an import's many by COPY."""
    if not rows:
        return
    if len(rows) <= COPY_FROM:
        session.execute(insert(MasterAudit.__table__), rows)
        return
    copy_rows(session, "master_audit", COLUMNS, rows)


def history(session: Session, *, record_type: str, key: str, limit: int = 100, offset: int = 0) -> tuple[list, int]:
    """A record's audit, newest first, and how many rows it has."""
    where = (MasterAudit.record_type == record_type, MasterAudit.record_key == key)
    total = session.scalar(select(func.count()).select_from(MasterAudit).where(*where))
    rows = list(session.scalars(select(MasterAudit).where(*where)
                                .order_by(MasterAudit.at.desc(), MasterAudit.id.desc()).limit(limit).offset(offset)))
    return rows, total
