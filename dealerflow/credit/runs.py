"""Credit scoring (信用评级): a monthly run scores every dealer through the credit_score rule file from
the figures its ledger gives (ledger_figures, one statement for all dealers) and its channel signals,
and keeps every scorecard with its explanation. Ratings apply at once; so does a lower limit (the
dealer and its account manager are told) and a small increase; an increase over the file's threshold
waits for a credit manager, over its second threshold for a second person too, never the first.

The run also refreshes `dealers.outstanding` and `dealers.overdue_days` as a cache for lists and
exports; the credit decision never reads them (it reads the ledger live, see orders/credit.py)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Callable

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.contracts import (CreditApplyResult, CreditApprovalInput, CreditApprovalOutcomeInput,
                                  CreditScoreResult, CreditStepInput, TaskSpec)
from dealerflow.contracts.credit import workflow_id_for
from dealerflow.contracts.tiering import month_of
from dealerflow.core import periods
from dealerflow.core.errors import Invalid
from dealerflow.credit import ledger_figures
from dealerflow.models import CreditRun, CreditScore, Dealer, User
from dealerflow.shared import rulebook
from dealerflow.shared.dealer_facts import COLUMNS, facts_of
from dealerflow.shared.notifications import notify, notify_each
from policies_dsl import CompiledRuleset, CreditScoreSpec, assess_credit
from policies_dsl.kinds.credit_score import shown

RULESET = "credit_score"
CHUNK = 2000
LIST_LIMIT = 50  # dealers listed in an account manager's notification
TASK_NAMESPACE = uuid.UUID("8c1f3e0a-5b7d-4e2a-9f16-3a4d7c2b9e05")


class CreditRunError(Invalid):
    """A run that cannot be asked for: not a month, a month to come, one before the last run, or no file."""


def ruleset(session: Session, version: int | None = None) -> tuple[CompiledRuleset, CreditScoreSpec]:
    try:
        compiled = rulebook.compiled(session, RULESET, version)
    except rulebook.UnknownRuleset:
        raise CreditRunError("no credit scoring rule file has been deployed (rules/credit_score.yaml)") from None
    if compiled.rule_file.kind != "credit_score":
        raise CreditRunError(f"{RULESET!r} is a {compiled.rule_file.kind} rule file, not a credit_score file")
    return compiled, compiled.rule_file.spec


def plan(session: Session, month: str, now: datetime) -> date:
    """The first day of `month`: the run's figures come from the ledger before it."""
    try:
        period = periods.parse(month)
    except periods.PeriodError:
        period = None
    if period is None or period.kind != "month":
        raise CreditRunError(f"{month!r} is not a month: write it like {month_of(now)}")
    current = month_of(now)
    if month > current:
        raise CreditRunError(f"{month} has not started yet (this is {current})")
    latest = session.scalar(select(func.max(CreditRun.month)))
    if latest and month < latest:
        raise CreditRunError(f"credit scoring goes forward: {latest} has been run, so {month} can no longer be")
    return period.start


def _locked(session: Session, month: str) -> CreditRun:
    return session.scalars(select(CreditRun).where(CreditRun.month == month).with_for_update()).one()


# --- scoring ---------------------------------------------------------------------------------------

def score_run(session: Session, inp: CreditStepInput, *,
              progress: Callable[[int], None] = lambda done: None) -> CreditScoreResult:
    """Create the run (once) and score every dealer: one scorecard row each. One transaction, so a
    worker killed halfway leaves nothing to undo; a retry finds the run and returns its totals."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"credit:{inp.month}"))))
    run = session.get(CreditRun, inp.month)
    if run is not None:
        return CreditScoreResult(run.month, run.totals.get("dealers", 0), run.totals.get("changes", 0))
    as_of = plan(session, inp.month, inp.now)
    compiled, spec = ruleset(session)
    run = CreditRun(month=inp.month, ruleset_version=compiled.version, as_of=as_of, workflow_id=workflow_id_for(inp.month),
                    stage="scoring", started_by=inp.actor, totals={})
    session.add(run)
    session.flush()
    # Increases an earlier month still waits on are decided afresh by this month's figures.
    session.execute(update(CreditScore).where(CreditScore.run_month < run.month,
                                              CreditScore.status == "awaiting_approval")
                    .values(status="rejected", decided_by=f"superseded by {run.month}", decided_at=inp.now))
    totals = score_dealers(session, compiled, spec, run.month, as_of, progress=progress)
    run.scored_at, run.stage, run.totals = inp.now, "applying", totals
    return CreditScoreResult(run.month, totals["dealers"], totals["changes"])


def score_dealers(session: Session, compiled: CompiledRuleset, spec: CreditScoreSpec, month: str, as_of: date, *,
                  progress: Callable[[int], None] = lambda done: None) -> dict:
    """The figures of every dealer in one statement, the rules once per dealer, the scorecards
    inserted in chunks. Returns the run's totals."""
    figures = ledger_figures.all_dealers(session, as_of)
    dealers = session.execute(select(*COLUMNS, Dealer.rating, Dealer.credit_limit).order_by(Dealer.id)).all()
    rows, ratings, changes = [], defaultdict(int), defaultdict(int)
    shadows, shadowed = rulebook.shadows(session, RULESET), []
    progress(0)
    for n, d in enumerate(dealers, 1):
        figs = ledger_figures.shape(figures.get(d.id), on=as_of, credit_limit=d.credit_limit)
        dealer = {**facts_of(d), "dealer.rating": d.rating, "dealer.credit_limit": d.credit_limit}
        a = assess_credit(compiled, spec, dealer, figs)
        # The exact inputs (Decimals as written, not rounded for show): a replay gives the same card.
        a.explanation["inputs"] = {"dealer": {k: _exact(v) for k, v in dealer.items()},
                                   "figures": {k: _exact(v) for k, v in figs.items()}}
        if shadows:  # evaluated beside the live card, stored, never applied
            shadowed.append(dict(
                ruleset=RULESET, subject=f"{month}:{d.code}", live_version=compiled.version,
                live=card_value(a.rating, a.limit), live_reason=a.explanation["reason"],
                shadow=rulebook.beside(shadows, lambda s: _shadow_card(s, dealer, figs)),
                context={"dealer": d.code, "region": d.region, "tier": d.tier, "month": month,
                         "amount": f"{a.limit - Decimal(d.credit_limit or 0):.2f}"}))
        changed = a.rating != d.rating or a.change != 0
        ratings[a.rating] += 1
        if a.change:
            changes["increases" if a.change > 0 else "decreases"] += 1
        rows.append(dict(run_month=month, dealer_id=d.id, score=a.score, old_rating=d.rating, new_rating=a.rating,
                         override=a.override, old_limit=d.credit_limit, proposed_limit=a.limit, approvals=a.approvals,
                         status="proposed" if changed else "unchanged",
                         figures={k: _json(v) for k, v in figs.items()},
                         explanation={**a.explanation, "month": month, "as_of": as_of.isoformat()}, approvers=[]))
        if len(rows) == CHUNK:
            session.execute(insert(CreditScore), rows)
            rulebook.store_shadow_outcomes(session, shadowed)
            rows, shadowed = [], []
        if n % 500 == 0:
            progress(n)
    if rows:
        session.execute(insert(CreditScore), rows)
    rulebook.store_shadow_outcomes(session, shadowed)
    changed = session.scalar(select(func.count()).where(CreditScore.run_month == month,
                                                        CreditScore.status == "proposed"))
    return {"dealers": len(dealers), "changes": changed, "by_rating": dict(sorted(ratings.items())), **changes}


def card_value(rating: str, limit: Decimal) -> str:
    """A scorecard's outcome as the shadow dashboard compares it: rating and proposed limit."""
    return f"{rating} {limit:.2f}"


def _shadow_card(shadow: CompiledRuleset, dealer: dict, figures: dict) -> dict:
    a = assess_credit(shadow, shadow.rule_file.spec, dealer, figures)
    return {"value": card_value(a.rating, a.limit), "outcome": {"rating": a.rating, "limit": f"{a.limit:.2f}"},
            "rule": a.explanation.get("override") and a.explanation["override"]["name"] or a.rating,
            "reason": a.explanation["reason"]}


def _exact(value):
    return str(value) if isinstance(value, Decimal) else value


def _json(value):
    """Money to the cent as written; a ratio or a day count to 6 places."""
    return shown(value) if isinstance(value, Decimal) else value


# --- applying ---------------------------------------------------------------------------------------

_APPLY = text("""
    update dealers d set
        rating = s.new_rating,
        credit_limit = case when s.approvals = 0 then s.proposed_limit else d.credit_limit end,
        outstanding = greatest(0, cast(s.figures ->> 'receivables' as numeric)),
        overdue_days = cast(s.figures ->> 'overdue_days' as integer)
    from credit_scores s
    where s.run_month = :month and s.dealer_id = d.id""")


def apply_changes(session: Session, inp: CreditStepInput) -> CreditApplyResult:
    """Apply every rating and every limit change that needs nobody (decreases tell the dealer and its
    account manager); mark the increases that wait for approval. Safe to retry."""
    run = _locked(session, inp.month)
    if run.stage == "applying":
        session.execute(_APPLY, {"month": run.month})
        proposed = (CreditScore.run_month == run.month) & (CreditScore.status == "proposed")
        session.execute(update(CreditScore).where(proposed, CreditScore.approvals > 0)
                        .values(status="awaiting_approval"))
        applied = session.execute(update(CreditScore).where(proposed).values(
            status="applied", decided_by="rules", decided_at=inp.now).returning(
            CreditScore.dealer_id, CreditScore.old_limit, CreditScore.proposed_limit)).all()
        decreased = [r for r in applied if r.proposed_limit < r.old_limit]
        _tell_decreases(session, run.month, [r.dealer_id for r in decreased])
        run.stage = "applied"
        run.totals = {**run.totals, "applied": len(applied), "decreased": len(decreased)}
    awaiting = list(session.scalars(select(CreditScore.dealer_id).where(
        CreditScore.run_month == run.month, CreditScore.status == "awaiting_approval").order_by(CreditScore.dealer_id)))
    run.totals = {**run.totals, "awaiting_approval": len(awaiting)}
    return CreditApplyResult(run.totals.get("applied", 0), run.totals.get("decreased", 0), awaiting)


def _tell_decreases(session: Session, month: str, dealer_ids: list[int]) -> None:
    """Each dealer whose limit fell, and each account manager once with its dealers listed (staff
    without a login: the credit managers), in two multi-row inserts."""
    if not dealer_ids:
        return
    rows = session.execute(select(Dealer.id, Dealer.code, Dealer.name, Dealer.account_manager, CreditScore.old_limit,
                                  CreditScore.proposed_limit, CreditScore.new_rating,
                                  CreditScore.explanation["reason"].as_string().label("reason"))
                           .join(CreditScore, CreditScore.dealer_id == Dealer.id)
                           .where(CreditScore.run_month == month, Dealer.id.in_(dealer_ids))).all()
    told = [dict(dealer_id=r.id, kind="credit",
                 link="/console/account", title=f"Your credit limit from {month}: {r.proposed_limit:,.2f} (was "
                                                f"{r.old_limit:,.2f}), rating {r.new_rating}",
                 body=r.reason or "", dedup_key=f"credit:{month}:{r.id}") for r in rows]
    by_manager: dict[str | None, list] = defaultdict(list)
    for r in rows:
        by_manager[r.account_manager].append(r)
    users = dict(session.execute(select(User.username, User.id).where(
        User.username.in_([m for m in by_manager if m]))).all())
    for manager, members in by_manager.items():
        user_id = users.get(manager) if manager else None
        listed = "; ".join(f"{m.code} {m.name}: {m.old_limit:,.2f} → {m.proposed_limit:,.2f}"
                           for m in sorted(members, key=lambda m: m.code)[:LIST_LIMIT])
        told.append(dict(user_id=user_id, role=None if user_id else "credit_manager", kind="credit",
                         link="/console/credit",
                         title=f"Credit {month}: {len(members)} of your dealers' limits lowered", body=listed,
                         dedup_key=f"credit-decreases:{month}:{manager or '-'}"))
    notify_each(session, told)


# --- approving an increase ----------------------------------------------------------------------

def _score(session: Session, month: str, dealer_id: int, *, lock: bool = False) -> CreditScore:
    q = select(CreditScore).where(CreditScore.run_month == month, CreditScore.dealer_id == dealer_id)
    return session.scalars(q.with_for_update() if lock else q).one()


def increase_task(session: Session, inp: CreditApprovalInput) -> TaskSpec | None:
    """The task asking approver `step` about one dealer's increase, or None when no (further)
    approval is wanted: decided already, superseded, or one approval enough."""
    s = _score(session, inp.month, inp.dealer_id)
    run = session.get(CreditRun, inp.month)
    _, spec = ruleset(session, run.ruleset_version)
    if s.status != "awaiting_approval" or inp.step > s.approvals:
        return None
    dealer = session.get(Dealer, inp.dealer_id)
    change = s.proposed_limit - s.old_limit
    role = spec.approval_role or "credit_manager"
    return TaskSpec(
        task_id=inp.task_id, kind="credit_increase",
        title=f"Credit {inp.month}: raise {dealer.code} {dealer.name} to {s.proposed_limit:,.2f} (+{change:,.2f})"
              + (" — second approval" if inp.step == 2 else ""),
        subject_type="credit", subject_id=f"{inp.month}:{dealer.code}", assignee_role=role,
        outcomes=["approve", "reject"], sla_seconds=spec.approval_sla_seconds or 2 * 86400,
        escalate_to="hq" if role != "hq" else None, dealer_id=dealer.id, not_by=list(inp.not_by),
        payload={"month": inp.month, "dealer": dealer.code, "name": dealer.name, "step": inp.step,
                 "approvals": s.approvals, "not_by": list(inp.not_by), "rating": s.new_rating,
                 "score": f"{s.score:.2f}", "from": f"{s.old_limit:.2f}", "to": f"{s.proposed_limit:.2f}",
                 "change": f"{change:.2f}", "reason": s.explanation.get("reason", "")})


def increase_task_id(month: str, dealer_id: int, step: int) -> str:
    return str(uuid.uuid5(TASK_NAMESPACE, f"{month}:{dealer_id}:{step}"))


def record_approval(session: Session, inp: CreditApprovalOutcomeInput) -> str:
    """An approver's answer: a rejection keeps the limit; the last approval needed applies the new
    limit. Returns the scorecard's status (awaiting_approval while a second person is needed)."""
    s = _score(session, inp.month, inp.dealer_id, lock=True)
    if s.status != "awaiting_approval" or any(a["step"] == inp.step for a in s.approvers):
        return s.status  # decided, superseded, or a retried activity
    if any(a["actor"] == inp.task.actor for a in s.approvers):
        raise Invalid(f"{inp.task.actor} approved this increase already: the second approver is someone else")
    s.approvers = [*s.approvers, {"step": inp.step, "actor": inp.task.actor, "outcome": inp.task.outcome,
                                  "comment": inp.task.comment, "at": inp.now.isoformat()}]
    if inp.task.outcome != "approve":
        s.status, s.decided_by, s.decided_at = "rejected", inp.task.actor, inp.now
    elif inp.step >= s.approvals:
        session.execute(update(Dealer).where(Dealer.id == s.dealer_id).values(credit_limit=s.proposed_limit))
        s.status, s.decided_by, s.decided_at = "applied", inp.task.actor, inp.now
        notify(session, dealer_id=s.dealer_id, kind="credit", link="/console/account",
               title=f"Your credit limit from {inp.month}: {s.proposed_limit:,.2f} (was {s.old_limit:,.2f})",
               dedup_key=f"credit:{inp.month}:{s.dealer_id}")
    return s.status


def close_run(session: Session, inp: CreditStepInput) -> dict:
    run = _locked(session, inp.month)
    if run.closed_at is None:
        statuses = dict(session.execute(select(CreditScore.status, func.count()).where(
            CreditScore.run_month == run.month).group_by(CreditScore.status)).all())
        run.totals = {**run.totals, "statuses": statuses}
        run.stage, run.closed_at = "closed", inp.now
        notify(session, role="credit_manager", kind="credit", link=f"/console/credit?month={run.month}",
               title=f"Credit scoring {run.month}: {run.totals.get('applied', 0)} changes applied, "
                     f"{run.totals.get('decreased', 0)} limits lowered, "
                     f"{statuses.get('awaiting_approval', 0)} increases wait for approval",
               dedup_key=f"credit-closed:{run.month}")
    return run.totals
