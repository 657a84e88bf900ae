"""Stored replay reports: one row each, its content hashed (sha256 of the canonical JSON of the
ruleset, candidate, window, totals, breakdown and samples), so a proposal's approver approves the very
impact they read; and the report as spreadsheet rows (CSV/XLSX through dealerflow/shared/exports)."""
from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.core.errors import NotFound
from dealerflow.models import ReplayReport
from dealerflow.governance.replay import Outcome, Window
from policies_dsl import RuleFile

COLUMNS = ("section", "group", "key", "from", "to", "count", "amount", "subject", "before", "after")


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def store(session: Session, rule_file: RuleFile, window: Window, outcome: Outcome, *, actor: str) -> ReplayReport:
    content = {"ruleset": rule_file.name, "kind": rule_file.kind, "candidate_sha256": rule_file.sha256,
               "since": window.since.isoformat() if window.since else None,
               "until": window.until.isoformat() if window.until else None,
               "totals": outcome.totals, "breakdown": outcome.breakdown, "samples": outcome.samples}
    report = ReplayReport(id=uuid.uuid4(), ruleset=rule_file.name, kind=rule_file.kind, filename=rule_file.file,
                          candidate_sha256=rule_file.sha256, since=window.since, until=window.until,
                          totals=outcome.totals, breakdown=outcome.breakdown, samples=outcome.samples,
                          content_hash=content_hash(content), created_by=actor)
    session.add(report)
    session.flush()
    return report


def get(session: Session, report_id: uuid.UUID) -> ReplayReport:
    report = session.get(ReplayReport, report_id)
    if report is None:
        raise NotFound(f"replay report {report_id} not found")
    return report


def latest(session: Session, limit: int = 20) -> list[ReplayReport]:
    return list(session.scalars(select(ReplayReport).order_by(ReplayReport.created_at.desc()).limit(limit)))


def _amount(value):
    """Amounts travel as exact text in the report; a spreadsheet gets them as numbers."""
    try:
        return Decimal(value) if isinstance(value, str) else value
    except InvalidOperation:
        return value


def rows(report: ReplayReport) -> list[dict]:
    """The report as one table: its totals, its breakdown, then its sample rows with both explanations."""
    out = [{"section": "total", "key": k, "count": v if isinstance(v, int) else None,
            "amount": _amount(v) if isinstance(v, str) else None} for k, v in report.totals.items()
           if isinstance(v, (int, str))]
    out += [{"section": "breakdown", **{k: b.get(k) for k in ("group", "key", "from", "to", "count")},
             "amount": _amount(b.get("amount"))} for b in report.breakdown]
    out += [{"section": "sample", "subject": s.get("subject"), "from": s.get("from"), "to": s.get("to"),
             "amount": _amount(s.get("amount")), "before": s["before"].get("reason"),
             "after": s["after"].get("reason")} for s in report.samples]
    return out
