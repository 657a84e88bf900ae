"""Rebate program replay: each settled run of the program (frozen in the window; default: every
one) replayed dealer by dealer. A dealer with a statement is replayed from the figures and dealer
facts the statement keeps (exact); a dealer without one — to see who would enter eligibility — from
the facts and figures the run read for it (settlement_figures, exact). Runs settled before those
were kept fall back to the run's figures recomputed from the ledger and the dealers' facts today,
and the report counts them apart (`runs_recomputed`, `entering_recomputed`). The report gives the
rebate total difference by program and period and by dealer, and the dealers entering or leaving
eligibility."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import Dealer, SettlementFigures, SettlementRun, Statement
from dealerflow.rebates.settlement import statement_rows
from policies_dsl import CompiledRuleset, FactError, Figures, accrue

ZERO = Decimal("0.00")
RECOMPUTED = "no statement; recomputed from today's facts (settled before its figures were kept)"


def _figures(facts: dict, f: dict) -> Figures:
    return Figures(dealer=facts, measure=f["measure"], prior_measure=f["prior_measure"], anniversary=f["anniversary"],
                   points=f["points"], paid_before=f.get("paid_before") or "0.00")


def settled_runs(session: Session, program: str, window: Window) -> list[SettlementRun]:
    q = select(SettlementRun).where(SettlementRun.program == program, SettlementRun.frozen_at.is_not(None))
    if window.since is not None:
        q = q.where(SettlementRun.frozen_at >= window.since)
    if window.until is not None:
        q = q.where(SettlementRun.frozen_at < window.until)
    return list(session.scalars(q.order_by(SettlementRun.frozen_at)))


@replayer("rebate")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    spec = candidate.rule_file.spec
    codes = dict(session.execute(select(Dealer.id, Dealer.code)).all())
    by_period: dict[str, list] = {}
    replayed = changed = entering = leaving = failed = recomputed_runs = entering_recomputed = 0
    before_total = after_total = ZERO
    changes = []
    for run in settled_runs(session, candidate.name, window):
        old_sum = new_sum = ZERO
        seen = set()
        for st in session.scalars(select(Statement).where(Statement.run_id == run.id, Statement.current)
                                  .order_by(Statement.dealer_id)):
            seen.add(st.dealer_id)
            e, f = st.explanation, st.explanation.get("figures", {})
            try:
                a = accrue(candidate, spec, _figures(e["facts"], f))
            except (FactError, KeyError):
                failed += 1
                continue
            replayed += 1
            new = a.rebate if a.eligible else ZERO
            old_sum, new_sum = old_sum + st.rebate, new_sum + new
            leaving += not a.eligible
            if new != st.rebate or not a.eligible:
                changed += 1
                changes.append((abs(new - st.rebate), run, st.dealer_id, st.rebate, new, e.get("reason", ""),
                                a.explanation.get("reason", "") if a.eligible else "not eligible"))
        # Dealers the run gave no statement: would the candidate make them eligible? On what the run
        # read for them; a run settled before that was kept recomputes them from today's facts.
        if session.scalar(select(exists().where(SettlementFigures.run_id == run.id))):
            for dealer_id, facts, f in session.execute(
                    select(SettlementFigures.dealer_id, SettlementFigures.facts, SettlementFigures.figures)
                    .where(SettlementFigures.run_id == run.id, SettlementFigures.eligible.is_(False))
                    .order_by(SettlementFigures.dealer_id).execution_options(yield_per=2000)):
                if dealer_id in seen:
                    continue
                try:
                    a = accrue(candidate, spec, _figures(facts, f))
                except (FactError, KeyError):
                    failed += 1
                    continue
                replayed += 1
                if a.eligible:
                    entering += 1
                    changed += 1
                    new_sum += a.rebate
                    changes.append((abs(a.rebate), run, dealer_id, ZERO, a.rebate, "no statement: not eligible",
                                    a.explanation.get("reason", "")))
        else:
            recomputed_runs += 1
            others = [d for d in codes if d not in seen]
            for row in statement_rows(session, run, candidate, spec, confirm_by=datetime.now(timezone.utc),
                                      dealer_ids=others) if others else ():
                replayed += 1
                entering += 1
                entering_recomputed += 1
                changed += 1
                new_sum += row["rebate"]
                changes.append((abs(row["rebate"]), run, row["dealer_id"], ZERO, row["rebate"], RECOMPUTED,
                                row["explanation"].get("reason", "")))
        by_period[run.id] = [run.program, run.period, old_sum, new_sum]
        before_total, after_total = before_total + old_sum, after_total + new_sum
    changes.sort(key=lambda c: (-c[0], c[1].id, c[2]))
    shown = [{"subject": codes.get(dealer_id, str(dealer_id)), "run": run.id, "period": run.period,
              "from": f"{old:.2f}", "to": f"{new:.2f}", "amount": f"{new - old:.2f}",
              "before": {"version": run.ruleset_version, "reason": why_before},
              "after": {"reason": why_after}}
             for _, run, dealer_id, old, new, why_before, why_after in changes[:samples]]
    breakdown = [{"group": "period", "key": f"{p} {period}", "from": f"{old:.2f}", "to": f"{new:.2f}",
                  "count": None, "amount": f"{new - old:.2f}"} for p, period, old, new in by_period.values()]
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed,
                    "runs": len(by_period), "rebate_before": f"{before_total:.2f}",
                    "rebate_after": f"{after_total:.2f}", "difference": f"{after_total - before_total:.2f}",
                    "entering": entering, "leaving": leaving, "not_replayable": failed,
                    "runs_recomputed": recomputed_runs, "entering_recomputed": entering_recomputed}, breakdown, shown)
