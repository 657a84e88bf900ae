"""Rebate settlement: a run freezes a period's figures, accrues each eligible dealer's rebate through
the program's rule file, issues statements (对账单), takes the dealers' confirmations and disputes,
records finance's approvals, and posts each rebate to the dealer's account exactly once.

Figures are aggregated in the database (one GROUP BY over the period's delivered lines, one over
returns, one over the ledger); the rule engine runs once per dealer, never per line. Posting is
idempotent at the database: each (run, dealer) has one posting key, unique in the ledger."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from dealerflow.core import errors
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset, Figures, RebateSpec, accrue

from dealerflow.shared import accounts, rulebook
from dealerflow.core import periods
from dealerflow.shared.dealer_facts import select_facts
from dealerflow.rebates.programs import SettlementError, dealer_facts, in_unit, measures, program, scoped
from dealerflow.contracts import (ApprovalInput, ApprovalOutcomeInput, DisputeOutcomeInput, FreezeResult,
                                  PostResult, ReviewState, SettlementFailedInput, SettlementInput, StepFailedInput,
                                  TaskSpec)
from dealerflow.contracts.rebates import workflow_id_for
from dealerflow.models import AccountEntry, Dealer, HumanTask, PointsEntry, SettlementFigures, SettlementRun, Statement
from dealerflow.shared import failures
from dealerflow.shared.notifications import notify, notify_dealers

POSTING_NAMESPACE = uuid.UUID("0d6f3c1e-4a52-4f57-9b1e-6c2f8f0a7d13")
ZERO = Decimal("0.00")
OPEN_STAGES = ("freezing", "awaiting_confirmation", "awaiting_approval", "posting")
FIGURES_CHUNK = 5000  # settlement_figures rows per insert


class NotFound(errors.NotFound):
    pass


class Conflict(errors.Conflict):
    """The statement or run is not in a state that allows this (e.g. the window has closed)."""



def posting_key(run_id: str, dealer_id: int) -> str:
    """The ledger source id of one dealer's rebate in one run: the same on every retry."""
    return str(uuid.uuid5(POSTING_NAMESPACE, f"{run_id}/{dealer_id}"))


# --- programs and runs -----------------------------------------------------------------------

@dataclass(frozen=True)
class RunPlan:
    run_id: str
    program: str
    period: periods.Period
    upto: periods.Period
    final: bool
    measure_from: date  # the ladder measures the period so far: [measure_from, span_to]
    span_to: date  # the statement ends here; it starts where the previous run's ended (`statement_start`)

    def input(self, actor: str) -> SettlementInput:
        return SettlementInput(self.run_id, self.program, self.period.key, self.upto.key, actor)


def plan_run(spec: RebateSpec, *, period_key: str, upto_key: str | None = None, today: date) -> RunPlan:
    """Which run `period_key` (and `upto_key`, for an interim run) means for this program; refused
    with a message a person can act on when the program does not settle that way."""
    period = periods.parse(period_key)
    if period.kind != spec.period:
        raise SettlementError(f"{spec.id} settles by {spec.period}, so give a {spec.period} like "
                              f"{periods.period_of(spec.period, today).key}, not {period_key!r}")
    upto = period if upto_key in (None, "", period.key) else periods.parse(upto_key)
    final = upto == period
    if not final:
        if spec.interim is None:
            raise SettlementError(f"{spec.id} has no interim runs; settle the whole {spec.period} {period.key}")
        if upto.kind != spec.interim or not period.contains(upto):
            raise SettlementError(f"an interim run of {period.key} ends with a {spec.interim} inside it, "
                                  f"not {upto_key!r}")
        if upto.end == period.end:
            raise SettlementError(f"{upto.key} ends the {spec.period}: the final run of {period.key} settles it")
    if upto.end >= today:
        raise SettlementError(f"{upto.key} has not ended yet (its last day is {upto.end.isoformat()})")
    run_id = f"{spec.id}:{period.key}" + ("" if final else f":{upto.key}")
    return RunPlan(run_id, spec.id, period, upto, final, period.start, upto.end)


def due_runs(spec: RebateSpec, today: date) -> list[RunPlan]:
    """Runs a schedule firing on `today` starts: the final run of a period that has just ended, or
    the interim run of the part of it that has."""
    finished = periods.last_closed("month", today)  # schedules fire monthly
    period = periods.period_of(spec.period, finished.end)
    if period.end == finished.end:
        return [plan_run(spec, period_key=period.key, today=today)]
    if spec.interim and periods.period_of(spec.interim, finished.end).end == finished.end:
        return [plan_run(spec, period_key=period.key, upto_key=periods.period_of(spec.interim, finished.end).key,
                         today=today)]
    return []


class RunWaiting(Exception):
    """An earlier run of the same program and period has not closed yet; the freeze is retried."""


def _same_period(plan: RunPlan):
    return (SettlementRun.program == plan.program) & (SettlementRun.period == plan.period.key) & \
        (SettlementRun.id != plan.run_id)


def statement_start(session: Session, plan: RunPlan) -> date:
    """A statement picks up where the program's previous statement in the period ended (interim runs
    may have been skipped), or at the period's start: no movement falls between two statements."""
    last = session.scalar(select(func.max(SettlementRun.span_to)).where(
        _same_period(plan), SettlementRun.stage != "rejected", SettlementRun.span_to < plan.span_to))
    return last + timedelta(days=1) if last else plan.period.start


def refuse_after_final(session: Session, plan: RunPlan) -> None:
    """An interim run after the period's final run would pay what the final run already paid."""
    if not plan.final and session.scalar(select(SettlementRun.id).where(_same_period(plan), SettlementRun.final)):
        raise SettlementError(f"the final run of {plan.program} {plan.period.key} exists: no interim run after it")


def check_sequence(session: Session, plan: RunPlan) -> None:
    """Runs of one program and period go one after the other: a run subtracts what the interim runs
    before it paid, so it must see them closed."""
    refuse_after_final(session, plan)
    waiting_for = session.scalar(select(SettlementRun.id).where(_same_period(plan),
                                                                SettlementRun.stage.in_(OPEN_STAGES)).limit(1))
    if waiting_for:
        raise RunWaiting(f"run {waiting_for} of the same period is still open; this run waits for it to close")


# --- freezing the figures --------------------------------------------------------------------

def freeze(session: Session, inp: SettlementInput, *, now: datetime,
           progress: Callable[[int], None] = lambda done: None) -> FreezeResult:
    """Create the run (once), compute every eligible dealer's accrual and issue the statements.
    One transaction: a worker killed halfway leaves nothing, and the retry does it all again."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"settlement:{inp.run_id}"))))
    run = session.get(SettlementRun, inp.run_id)
    if run is not None and run.frozen_at is not None:
        return _freeze_result(session, run)
    current, current_spec = program(session, inp.program)
    plan = plan_run(current_spec, period_key=inp.period, upto_key=inp.upto, today=accounts.business_date(now))
    check_sequence(session, plan)
    rules_at = rules_moment(current_spec.settle_with, plan, now)
    ruleset, spec = (current, current_spec) if rules_at == now else program_at(session, inp.program, rules_at,
                                                                               current_spec.settle_with)
    if run is None:
        run = SettlementRun(id=plan.run_id, program=spec.id, period=plan.period.key, upto=plan.upto.key,
                            final=plan.final, ruleset_version=ruleset.version, measure_from=plan.measure_from,
                            span_from=statement_start(session, plan), span_to=plan.span_to, workflow_id=workflow_id_for(plan.run_id),
                            stage="freezing", started_by=inp.actor, approved_by=[], totals={})
        session.add(run)
        session.flush()
    confirm_by = now + timedelta(seconds=spec.confirm_seconds)
    evaluated: list[dict] = []
    rows = statement_rows(session, run, ruleset, spec, confirm_by=confirm_by, evaluated=evaluated, progress=progress)
    if rows:
        session.execute(insert(Statement), rows)
    for n in range(0, len(evaluated), FIGURES_CHUNK):  # what a replay needs for the dealers left out too
        session.execute(insert(SettlementFigures).on_conflict_do_nothing(), evaluated[n:n + FIGURES_CHUNK])
    run.ruleset_version, run.frozen_at, run.stage = ruleset.version, now, "awaiting_confirmation"
    # Which version settled it, and why that one: the moment the program file names.
    run.totals = {**_totals(rows), "rules": {"version": ruleset.version, "settle_with": current_spec.settle_with,
                                             "as_of": rules_at.isoformat()}}
    notify_dealers(session, [r["dealer_id"] for r in rows], kind="statement",
                   title=f"Statement {run.id}: please confirm by {confirm_by:%Y-%m-%d %H:%M} UTC",
                   link="/console/statements", dedup=f"statement-issued:{run.id}")
    return _freeze_result(session, run)


def rules_moment(settle_with: str, plan: RunPlan, now: datetime) -> datetime:
    """The moment whose rules a run evaluates with, as the program file declares (`settle_with`): the
    last instant of the span it settles (an interim run's part of the period), the period's first
    instant, or the run's own time (the default)."""
    if settle_with == "period_end":
        return accounts.day_start(plan.span_to + timedelta(days=1)) - timedelta(microseconds=1)
    if settle_with == "period_start":
        return accounts.day_start(plan.period.start)
    return now


def program_at(session: Session, name: str, at: datetime, settle_with: str) -> tuple[CompiledRuleset, RebateSpec]:
    """The program's version in force at `at`; refused when none was (the program began later)."""
    try:
        ruleset = rulebook.compiled(session, name, at=at)
    except rulebook.UnknownRuleset:
        raise SettlementError(f"{name} settles with the rules in force at its {settle_with.replace('_', ' ')}"
                              f" ({at.astimezone(accounts.CHINA):%Y-%m-%d %H:%M} Beijing time), and no version"
                              f" of it was in force then") from None
    return ruleset, ruleset.rule_file.spec


def _freeze_result(session: Session, run: SettlementRun) -> FreezeResult:
    _, spec = program(session, run.program, run.ruleset_version)
    return FreezeResult(run.id, run.totals.get("statements", 0), run.totals.get("rebate", "0.00"),
                        spec.confirm_seconds)


def _totals(rows: list[dict]) -> dict:
    return {"statements": len(rows),
            "rebate": f"{sum((r['rebate'] for r in rows), ZERO):.2f}",
            "points_amount": f"{sum((r['points_amount'] for r in rows), ZERO):.2f}",
            "dealers_with_rebate": sum(1 for r in rows if r["rebate"] != 0)}


def statement_rows(session: Session, run: SettlementRun, ruleset: CompiledRuleset, spec: RebateSpec, *,
                   confirm_by: datetime, dealer_ids: list[int] | None = None, revision: int = 1,
                   facts: dict[int, dict] | None = None, evaluated: list[dict] | None = None,
                   progress: Callable[[int], None] = lambda done: None) -> list[dict]:
    """One statement row per eligible dealer (or per dealer of `dealer_ids`), from figures aggregated
    in the database and one rule-engine evaluation per dealer; `progress` hears how many are done.
    The dealer facts eligibility read are kept in the explanation; `facts` (dealer id → those facts)
    makes a revision read the facts the statement was issued on, not the dealer's facts today.
    `evaluated` receives what every dealer was decided on, eligible or not (settlement_figures)."""
    measure = measures(session, spec, run.measure_from, run.span_to, dealer_ids)
    ledger = ledger_sums(session, run.span_from, run.span_to, dealer_ids)
    points = dict(session.execute(scoped(select(PointsEntry.dealer_id, func.sum(PointsEntry.points))
                                          .group_by(PointsEntry.dealer_id), PointsEntry.dealer_id, dealer_ids)).all())
    paid = _paid_before(session, run, dealer_ids)
    rows = []
    shadows, shadowed = rulebook.shadows(session, ruleset.name), []
    progress(0)
    for n, dealer in enumerate(session.execute(scoped(select_facts(), Dealer.id, dealer_ids)), 1):
        if n % 1000 == 0:
            progress(n)
        current, prior = measure.get(dealer.id, (in_unit(spec, 0), in_unit(spec, 0)))
        joined = dealer.cooperation_since
        as_of = (facts or {}).get(dealer.id) or dealer_facts(dealer, on=run.span_to)
        figures = Figures(
            dealer=as_of,
            measure=current, prior_measure=prior,
            anniversary=periods.anniversary_in(joined, run.measure_from, run.span_to),
            points=int(points.get(dealer.id) or 0), paid_before=paid.get(dealer.id, ZERO))
        accrual = accrue(ruleset, spec, figures)
        if evaluated is not None:
            evaluated.append(dict(run_id=run.id, dealer_id=dealer.id, eligible=accrual.eligible, facts=as_of,
                                  figures=accrual.explanation["figures"]))
        if shadows:  # evaluated beside the statement, stored, never settled
            outcomes = rulebook.beside(shadows, lambda s: _shadow_accrual(s, figures))
            if accrual.eligible or any(o.get("value") != NOT_ELIGIBLE for o in outcomes.values()):
                shadowed.append(dict(
                    ruleset=ruleset.name, subject=f"{run.id}:{dealer.code}:r{revision}", live_version=ruleset.version,
                    live=accrual_value(accrual), live_reason=accrual.explanation.get("reason", ""), shadow=outcomes,
                    context={"dealer": dealer.code, "region": dealer.region, "run": run.id,
                             "amount": f"{accrual.rebate:.2f}" if accrual.eligible else "0.00"}))
        if not accrual.eligible:
            continue
        sums = ledger.get(dealer.id, {})
        row = dict(id=uuid.uuid4(), run_id=run.id, dealer_id=dealer.id, revision=revision, current=True,
                   status="issued", confirm_by=confirm_by, rebate=accrual.rebate, points=accrual.points,
                   points_amount=accrual.points_amount,
                   **{k: sums.get(k, ZERO) for k in ("opening", "deliveries", "returns", "payments", "rebates_posted")},
                   explanation={**accrual.explanation, "file": ruleset.rule_file.file, "facts": as_of,
                                "span": [run.span_from.isoformat(), run.span_to.isoformat()],
                                "measured": [run.measure_from.isoformat(), run.span_to.isoformat()]})
        row["closing"] = (row["opening"] + row["deliveries"] - row["returns"] - row["payments"]
                          - row["rebates_posted"] - row["rebate"] - row["points_amount"])
        rows.append(row)
    rulebook.store_shadow_outcomes(session, shadowed)
    return rows


NOT_ELIGIBLE = "not eligible"


def accrual_value(accrual) -> str:
    """A dealer's accrual as the shadow dashboard compares it: its rebate, or not eligible."""
    return f"{accrual.rebate:.2f}" if accrual.eligible else NOT_ELIGIBLE


def _shadow_accrual(shadow: CompiledRuleset, figures: Figures) -> dict:
    a = accrue(shadow, shadow.rule_file.spec, figures)
    return {"value": accrual_value(a), "outcome": {"eligible": a.eligible, "rebate": f"{a.rebate:.2f}",
                                                   "bracket": a.bracket},
            "rule": f"bracket {a.bracket}", "reason": a.explanation.get("reason", "")}


def ledger_sums(session: Session, start: date, end: date, dealer_ids: list[int] | None = None) -> dict[int, dict]:
    """dealer id → opening balance before `start` and each kind of movement in [start, end], as the
    statement shows them (credits as positive amounts)."""
    e = AccountEntry
    in_span = and_(e.value_date >= start, e.value_date <= end)

    def total(condition, sign=1):
        return func.coalesce(func.sum(sign * e.amount).filter(condition), 0)

    q = select(e.dealer_id, total(e.value_date < start), total(in_span & (e.kind == "delivery")),
               total(in_span & (e.kind == "return"), -1), total(in_span & (e.kind == "payment"), -1),
               total(in_span & e.kind.in_(("rebate", "points")), -1)).where(e.value_date <= end).group_by(e.dealer_id)
    keys = ("opening", "deliveries", "returns", "payments", "rebates_posted")
    return {row[0]: dict(zip(keys, row[1:])) for row in session.execute(scoped(q, e.dealer_id, dealer_ids))}


def _paid_before(session: Session, run: SettlementRun, dealer_ids: list[int] | None) -> dict[int, Decimal]:
    """What earlier interim runs of the same program and period credited each dealer."""
    q = (select(Statement.dealer_id, func.sum(Statement.rebate)).join(SettlementRun)
         .where(SettlementRun.program == run.program, SettlementRun.period == run.period,
                SettlementRun.id != run.id, ~SettlementRun.final, SettlementRun.upto < run.upto, Statement.current,
                Statement.posted_at.is_not(None))
         .group_by(Statement.dealer_id))
    return dict(session.execute(scoped(q, Statement.dealer_id, dealer_ids)).all())


# --- dealers confirm or dispute ----------------------------------------------------------------

def statement_for_dealer(session: Session, statement_id: uuid.UUID, dealer_id: int, *, lock: bool = False) -> Statement:
    q = select(Statement).where(Statement.id == statement_id, Statement.dealer_id == dealer_id)
    statement = session.scalars(q.with_for_update() if lock else q).first()
    if statement is None:
        raise NotFound("statement not found")
    return statement


def _answerable(statement: Statement, now: datetime) -> None:
    if not statement.current:
        raise Conflict("this statement has been revised; answer the current revision")
    if statement.status != "issued":
        raise Conflict(f"the statement is already {statement.status}")
    if now > statement.confirm_by:
        raise Conflict(f"the confirmation window closed at {statement.confirm_by.isoformat()}")


def confirm(session: Session, *, statement_id: uuid.UUID, dealer_id: int, actor: str, now: datetime) -> None:
    statement = statement_for_dealer(session, statement_id, dealer_id, lock=True)
    _answerable(statement, now)
    statement.status, statement.confirmed_at, statement.confirmed_by = "confirmed", now, actor


def unanswered(session: Session, run_id: str) -> int:
    """Statements of a run still waiting for their dealer or for finance. Read after the answer has
    committed: two last answers committing together then both see 0, and the run is woken."""
    return session.scalar(select(func.count()).where(
        Statement.run_id == run_id, Statement.current, Statement.status.in_(("issued", "disputed"))))


def dispute(session: Session, *, statement_id: uuid.UUID, dealer_id: int, reason: str, now: datetime) -> None:
    statement = statement_for_dealer(session, statement_id, dealer_id, lock=True)
    _answerable(statement, now)
    statement.status, statement.disputed_at, statement.dispute_reason = "disputed", now, reason


def review(session: Session, run_id: str, *, now: datetime) -> ReviewState:
    """Silence past the deadline confirms; disputes without a finance task get one."""
    auto = session.execute(update(Statement).where(
        Statement.run_id == run_id, Statement.current, Statement.status == "issued", Statement.confirm_by <= now)
        .values(status="confirmed", confirmed_at=now, confirmed_by="auto"))
    run = session.get(SettlementRun, run_id)
    _, spec = program(session, run.program, run.ruleset_version)
    opened = select(HumanTask.id).where(HumanTask.id == Statement.dispute_task_id).exists()
    new = session.execute(select(Statement, Dealer.code).join(Dealer).where(
        Statement.run_id == run_id, Statement.current, Statement.status == "disputed", ~opened)).all()
    specs = []
    for statement, code in new:
        statement.dispute_task_id = statement.dispute_task_id or uuid.uuid4()
        specs.append(TaskSpec(
            task_id=str(statement.dispute_task_id), kind="statement_dispute",
            title=f"Statement dispute: {code}, {run_id}, rebate {statement.rebate:.2f}",
            subject_type="statement", subject_id=str(statement.id), dealer_id=statement.dealer_id,
            assignee_role=spec.dispute_role, outcomes=["revise", "uphold"], sla_seconds=spec.dispute_sla_seconds,
            escalate_to="hq", payload={"run_id": run_id, "dealer": code, "reason": statement.dispute_reason,
                                       "statement_id": str(statement.id), "rebate": f"{statement.rebate:.2f}",
                                       "closing": f"{statement.closing:.2f}",
                                       **({"previous": statement.resolution} if statement.resolution else {})}))
    counts = dict(session.execute(select(Statement.status, func.count()).where(
        Statement.run_id == run_id, Statement.current).group_by(Statement.status)).all())
    deadline = session.scalar(select(func.min(Statement.confirm_by)).where(
        Statement.run_id == run_id, Statement.current, Statement.status == "issued"))
    return ReviewState(waiting=counts.get("issued", 0), disputed=counts.get("disputed", 0), new_disputes=specs,
                       next_deadline=deadline, auto_confirmed=auto.rowcount)


def resolve_dispute(session: Session, inp: DisputeOutcomeInput) -> str:
    """Finance's answer to a dispute: `revise` recomputes the dealer's figures as they stand now, on
    the dealer facts of the period (those the statement was issued on: a later re-tiering does not
    take the dealer out of a period it was in), and issues revision + 1 for the dealer to confirm
    again; `uphold` confirms the statement as it was."""
    statement = session.scalars(select(Statement).where(Statement.id == uuid.UUID(inp.statement_id))
                                .with_for_update()).one()
    if not statement.current or statement.status != "disputed":
        return statement.status  # a retried activity: already applied
    statement.resolution = f"{inp.task.outcome} by {inp.task.actor}" + (f": {inp.task.comment}" if inp.task.comment else "")
    link = "/console/statements"
    if inp.task.outcome == "uphold":
        statement.status, statement.confirmed_at, statement.confirmed_by = "confirmed", inp.now, inp.task.actor
        notify(session, dealer_id=statement.dealer_id, kind="statement", link=link,
               title=f"Your dispute of statement {statement.run_id} was not upheld: {inp.task.comment or 'no change'}",
               dedup_key=f"dispute-resolved:{statement.id}")
        return "confirmed"
    run = session.get(SettlementRun, statement.run_id)
    ruleset, spec = program(session, run.program, run.ruleset_version)
    statement.current, statement.status = False, "superseded"
    session.flush()
    issued_on = (statement.explanation or {}).get("facts")  # statements issued before facts were kept: none
    rows = statement_rows(session, run, ruleset, spec, confirm_by=inp.now + timedelta(seconds=spec.confirm_seconds),
                          dealer_ids=[statement.dealer_id], revision=statement.revision + 1,
                          facts={statement.dealer_id: issued_on} if issued_on else None)
    if not rows:  # only without the period's facts: the dealer is not eligible on today's
        raise Conflict(f"the dealer of statement {statement.id} is no longer eligible for {run.program}: "
                       "uphold the statement, or correct the dealer and revise again")
    session.execute(insert(Statement), rows)
    notify(session, dealer_id=statement.dealer_id, kind="statement", link=link,
           title=f"Revised statement {statement.run_id} (revision {statement.revision + 1}): please confirm",
           dedup_key=f"dispute-resolved:{statement.id}")
    return "revised"


# --- approval and posting ----------------------------------------------------------------------

def approval_task(session: Session, inp: ApprovalInput) -> TaskSpec | None:
    """Finance's approval (step 1), and a second approver's (step 2) when the run's rebates exceed
    the threshold in the rule file; None when no second approval is needed."""
    run = session.get(SettlementRun, inp.run_id)
    _, spec = program(session, run.program, run.ruleset_version)
    total = session.scalar(select(func.coalesce(func.sum(Statement.rebate + Statement.points_amount), 0)).where(
        Statement.run_id == run.id, Statement.current))
    if inp.step == 1:
        role, sla = spec.approval_role, spec.approval_sla_seconds
    elif spec.second_over is not None and total > spec.second_over:
        role, sla = spec.second_role, spec.second_sla_seconds
    else:
        return None
    run.stage = "awaiting_approval"
    count = session.scalar(select(func.count()).where(Statement.run_id == run.id, Statement.current))
    return TaskSpec(
        task_id=inp.task_id, kind="settlement_approval",
        title=f"Approve rebates {run.id}: {total:.2f} to {count} dealers" + (" (second approval)" if inp.step == 2 else ""),
        subject_type="settlement", subject_id=run.id, assignee_role=role, outcomes=["approve", "reject"],
        sla_seconds=sla, escalate_to="hq" if role != "hq" else None, not_by=inp.not_by,
        payload={"run_id": run.id, "program": run.program, "period": run.period, "upto": run.upto,
                 "total": f"{total:.2f}", "statements": count, "step": inp.step, "not_by": inp.not_by,
                 "second_approval_over": f"{spec.second_over:.2f}" if spec.second_over is not None else None})


def record_approval(session: Session, inp: ApprovalOutcomeInput) -> None:
    run = session.scalars(select(SettlementRun).where(SettlementRun.id == inp.run_id).with_for_update()).one()
    if any(a["step"] == inp.step for a in run.approved_by):
        return  # a retried activity
    run.approved_by = [*run.approved_by, {"step": inp.step, "actor": inp.task.actor, "outcome": inp.task.outcome,
                                          "comment": inp.task.comment}]
    if inp.task.outcome == "approve":
        run.stage = "posting"


def _unposted(run_id: str):
    return (Statement.run_id == run_id, Statement.current, Statement.status == "confirmed",
            Statement.posted_at.is_(None))


def post_batch(session: Session, run_id: str, *, now: datetime, limit: int = 500) -> PostResult:
    """Credit the next `limit` unposted rebates (and converted points) of a run: how many, and how
    many are left. Rows another transaction holds are skipped, not waited for, and counted as left:
    0 posted with some left means "try again shortly", not "done". The ledger's unique posting key
    makes a repeat impossible even if this runs twice."""
    run = session.get(SettlementRun, run_id)
    batch = session.execute(select(Statement.id, Statement.dealer_id, Statement.rebate, Statement.points,
                                   Statement.points_amount)
                            .where(*_unposted(run_id))
                            .order_by(Statement.id).limit(limit).with_for_update(skip_locked=True)).all()
    if not batch:
        return PostResult(0, session.scalar(select(func.count()).where(*_unposted(run_id))))
    entries, points = [], []
    for s in batch:
        key = posting_key(run_id, s.dealer_id)
        if s.rebate != 0:
            entries.append(accounts.entry(dealer_id=s.dealer_id, kind="rebate", amount=s.rebate, value_date=run.span_to,
                                          source_type="rebate", source_id=key, note=f"rebate {run_id}"))
        if s.points:
            entries.append(accounts.entry(dealer_id=s.dealer_id, kind="points", amount=s.points_amount,
                                          value_date=run.span_to, source_type="points", source_id=key,
                                          note=f"{s.points} points converted in {run_id}"))
            points.append(dict(dealer_id=s.dealer_id, points=-s.points, reason=f"converted to rebate in {run_id}",
                               source_type="rebate_conversion", source_id=key))
    accounts.book(session, entries)
    if points:
        session.execute(insert(PointsEntry).on_conflict_do_nothing(constraint="points_once"), points)
    session.execute(update(Statement).where(Statement.id.in_([s.id for s in batch])).values(posted_at=now))
    notify_dealers(session, [s.dealer_id for s in batch if s.rebate > 0], kind="rebate", link="/console/statements",
                   title=f"Rebate of {run.program} {run.upto} credited to your account", dedup=f"rebate-posted:{run_id}")
    return PostResult(len(batch), session.scalar(select(func.count()).where(*_unposted(run_id))))


def close(session: Session, run_id: str, *, status: str, now: datetime) -> dict:
    """Store the run's totals and close it. A run closes only when every confirmed statement is posted
    and the ledger credited what the statements say: with some still unposted it stays open and
    answers {"incomplete": True, "unposted": n} (the workflow posts again); a ledger that disagrees
    with the statements is a Conflict that a retry cannot mend."""
    run = session.scalars(select(SettlementRun).where(SettlementRun.id == run_id).with_for_update()).one()
    if run.closed_at is None and status == "closed":
        unposted = session.scalar(select(func.count()).where(*_unposted(run_id)))
        if unposted:
            return {"incomplete": True, "unposted": unposted}
        figures = session.execute(select(
            func.count(), func.coalesce(func.sum(Statement.rebate), 0), func.coalesce(func.sum(Statement.points_amount), 0),
            func.count().filter(Statement.posted_at.is_not(None)),
            func.count().filter(Statement.confirmed_by == "auto"), func.count().filter(Statement.revision > 1))
            .where(Statement.run_id == run_id, Statement.current)).one()
        dealers = session.scalars(select(Statement.dealer_id).where(
            Statement.run_id == run_id, Statement.current, Statement.posted_at.is_not(None))).all()
        credited = session.scalar(select(func.coalesce(func.sum(-AccountEntry.amount), 0)).where(
            AccountEntry.source_type.in_(("rebate", "points")),
            AccountEntry.source_id.in_([posting_key(run_id, d) for d in dealers])))
        if status == "closed" and credited != figures[1] + figures[2]:
            raise Conflict(f"settlement {run_id}: the ledger credited {credited:.2f}, the statements say "
                           f"{figures[1] + figures[2]:.2f} (rebate {figures[1]:.2f} + points {figures[2]:.2f})")
        run.totals = {**run.totals, "statements": figures[0], "rebate": f"{figures[1]:.2f}",
                      "points_amount": f"{figures[2]:.2f}", "posted": figures[3], "auto_confirmed": figures[4],
                      "revised": figures[5], "credited": f"{credited:.2f}"}
        run.stage, run.closed_at = status, now
        notify(session, role="finance", kind="settlement", link=f"/console/settlements/{run_id}",
               title=f"Settlement {run_id} {status}: {figures[1]:.2f} to {figures[3]} dealers",
               dedup_key=f"settlement-closed:{run_id}")
    return run.totals


# --- failures ----------------------------------------------------------------------------------

def record_failure(session: Session, inp: SettlementFailedInput) -> None:
    """A step of the run failed for good. A dispute's resolution: the statement stays disputed, shows
    what failed, and goes back to finance as a new task (uphold, or revise once the data is right).
    Any other step: the run is marked failed. Either way finance and the person who acted are told,
    and the run is listed among HQ's failing processes."""
    run = session.get(SettlementRun, inp.run_id)
    task = inp.task
    subject, link = f"settlement {inp.run_id}", f"/console/settlements/{inp.run_id}"
    if inp.statement_id:
        statement = session.scalars(select(Statement).where(Statement.id == uuid.UUID(inp.statement_id))
                                    .with_for_update()).one()
        subject, link = f"statement {statement.id} of {inp.run_id}", f"/console/statements/{statement.id}"
        if statement.current and statement.status == "disputed":
            what = f"{task.outcome} by {task.actor}" if task else "resolution"
            statement.resolution = f"{what} failed: {inp.error}"[:2000]
            statement.dispute_task_id = None  # the next review opens a new task for finance
    elif run is not None and run.closed_at is None:
        run.stage = "failed"
        run.totals = {**run.totals, "failure": {"step": inp.activity, "error": inp.error[:2000],
                                                "at": inp.now.isoformat()}}
    failures.step_failed(session, StepFailedInput(
        workflow_id=workflow_id_for(inp.run_id), workflow_type="SettlementWorkflow", activity=inp.activity,
        error=inp.error, subject=subject, link=link, notify_role="finance",
        actor=task.actor if task else inp.actor, task_id=task.task_id if task else None), now=inp.now)
