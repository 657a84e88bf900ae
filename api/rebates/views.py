"""Read models of settlement: runs, statements (JSON, CSV) with the caller's dealer scope applied."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.models import Dealer, HumanTask, SettlementRun, Statement, User
from dealerflow.shared.exports import write_csv

from api.labels import N_
from api.scope import dealer_filter

MONEY = ("opening", "deliveries", "returns", "payments", "rebates_posted", "rebate", "points_amount", "closing")
# How each line of a statement is named for people, in order (CSV and the printable page).
LINES = (("opening", N_("Opening balance")), ("deliveries", N_("Deliveries (invoiced)")), ("returns", N_("Returns")),
         ("payments", N_("Payments received")), ("rebates_posted", N_("Rebates already credited")),
         ("rebate", N_("Rebate of this settlement")), ("points_amount", N_("Points converted")),
         ("closing", N_("Closing balance")))  # English here (CSV); the console translates them


def statement_scope(user: User):
    """The statements of the dealers the caller may see (api/scope.py); None: all."""
    return dealer_filter(user, Statement.dealer_id)


def visible_statement(session: Session, user: User, statement_id: str) -> Statement | None:
    try:
        sid = uuid.UUID(statement_id)
    except ValueError:
        return None
    scope = statement_scope(user)
    q = select(Statement).where(Statement.id == sid)
    return session.scalars(q if scope is None else q.where(scope)).first()


def statement_read(session: Session, s: Statement, *, run: SettlementRun | None = None,
                   dealer: Dealer | None = None) -> dict:
    run = run or session.get(SettlementRun, s.run_id)
    dealer = dealer or session.get(Dealer, s.dealer_id)
    return {
        "id": str(s.id), "run_id": s.run_id, "program": run.program, "period": run.period, "upto": run.upto,
        "final": run.final, "run_stage": run.stage, "dealer_code": dealer.code, "dealer_name": dealer.name,
        "revision": s.revision, "current": s.current, "status": s.status,
        "span_from": run.span_from.isoformat(), "span_to": run.span_to.isoformat(),
        **{k: f"{getattr(s, k):.2f}" for k in MONEY}, "points": s.points,
        "issued_at": s.issued_at, "confirm_by": s.confirm_by, "confirmed_at": s.confirmed_at,
        "confirmed_by": s.confirmed_by, "disputed_at": s.disputed_at, "dispute_reason": s.dispute_reason,
        "resolution": s.resolution, "posted_at": s.posted_at, "explanation": s.explanation,
    }


def statement_list(session: Session, user: User, *, run_id: str | None, dealer_code: str | None,
                   status: str | None, limit: int, offset: int = 0) -> list[dict]:
    """Current revisions, newest first, in one query."""
    q = (select(Statement, SettlementRun, Dealer).join(SettlementRun).join(Dealer, Dealer.id == Statement.dealer_id)
         .order_by(Statement.issued_at.desc(), Dealer.code).limit(limit).offset(offset))
    q = _statement_filters(q, user, run_id=run_id, dealer_code=dealer_code, status=status)
    return [statement_read(session, s, run=r, dealer=d) for s, r, d in session.execute(q)]


def statement_count(session: Session, user: User, *, run_id: str | None, dealer_code: str | None,
                    status: str | None) -> int:
    """How many statements `statement_list` would list without a limit, counted in SQL."""
    q = select(func.count()).select_from(Statement).join(Dealer, Dealer.id == Statement.dealer_id)
    return session.scalar(_statement_filters(q, user, run_id=run_id, dealer_code=dealer_code, status=status)) or 0


def _statement_filters(q, user: User, *, run_id, dealer_code, status):
    q = q.where(Statement.current)
    scope = statement_scope(user)
    if scope is not None:
        q = q.where(scope)
    if run_id:
        q = q.where(Statement.run_id == run_id)
    if dealer_code:
        q = q.where(Dealer.code == dealer_code)
    if status:
        q = q.where(Statement.status == status)
    return q


def statement_csv(read: dict) -> str:
    """The statement as a spreadsheet (dealer names and explanations are neutralised: exports.csv_cell)."""
    return write_csv([
        ["statement", read["id"]],
        ["dealer", read["dealer_code"], read["dealer_name"]],
        ["settlement", read["run_id"], f"revision {read['revision']}", read["status"]],
        ["covers", read["span_from"], read["span_to"]],
        [],
        ["line", "amount"],
        *([label, read[key]] for key, label in LINES),
        ["Points converted (points)", read["points"]],
        [],
        ["rebate explanation", read["explanation"].get("reason", "")],
    ])


def run_read(session: Session, run: SettlementRun) -> dict:
    counts = dict(session.execute(select(Statement.status, func.count()).where(
        Statement.run_id == run.id, Statement.current).group_by(Statement.status)).all())
    tasks = session.execute(select(HumanTask.id, HumanTask.kind, HumanTask.status, HumanTask.assignee_role,
                                   HumanTask.outcome, HumanTask.completed_by)
                            .where(HumanTask.subject_type == "settlement", HumanTask.subject_id == run.id)
                            .order_by(HumanTask.created_at)).all()
    return {
        "id": run.id, "program": run.program, "period": run.period, "upto": run.upto, "final": run.final,
        "ruleset_version": run.ruleset_version, "stage": run.stage, "workflow_id": run.workflow_id,
        "measure_from": run.measure_from.isoformat(), "span_from": run.span_from.isoformat(),
        "span_to": run.span_to.isoformat(), "started_by": run.started_by, "started_at": run.started_at,
        "frozen_at": run.frozen_at, "closed_at": run.closed_at, "totals": run.totals,
        "statements": counts, "approvals": run.approved_by,
        "approval_tasks": [{"id": str(t.id), "status": t.status, "role": t.assignee_role, "outcome": t.outcome,
                            "completed_by": t.completed_by} for t in tasks],
    }
