"""Diversion replay: every assessed case's stored per-trigger facts through the candidate: the
severity it would get and the credit-point penalty a confirmation would cost, against the stored ones."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import DiversionCase
from policies_dsl import CompiledRuleset, FactError, assess, most_severe


@replayer("diversion")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    spec = candidate.rule_file.spec
    declared = candidate.rule_file.facts
    q = select(DiversionCase).where(DiversionCase.assessment.is_not(None))
    if window.since is not None:
        q = q.where(DiversionCase.opened_at >= window.since)
    if window.until is not None:
        q = q.where(DiversionCase.opened_at < window.until)
    moves: dict[tuple, list] = defaultdict(lambda: [0, 0])
    by_region: dict[tuple, int] = defaultdict(int)
    replayed = changed = failed = penalty_before = penalty_after = 0
    shown = []
    for case in session.scalars(q.order_by(DiversionCase.id).execution_options(yield_per=1000)):
        stored = case.assessment
        try:
            per = [assess(candidate, spec, {k: v for k, v in t["facts"].items() if k in declared})
                   for t in stored.get("triggers", ())]
        except (FactError, KeyError):
            failed += 1
            continue
        replayed += 1
        decided = most_severe(per)
        severity, penalty = (decided.severity, decided.penalty) if decided else (None, 0)
        before_sev, before_pen = stored.get("severity"), stored.get("penalty") or 0
        penalty_before += before_pen
        penalty_after += penalty
        if (severity, penalty) == (before_sev, before_pen):
            continue
        changed += 1
        cell = moves[(before_sev or "none", severity or "none")]
        cell[0] += 1
        cell[1] += penalty - before_pen
        by_region[(case.region, before_sev or "none", severity or "none")] += 1
        if len(shown) < samples:
            shown.append({"subject": str(case.id), "from": before_sev or "none", "to": severity or "none",
                          "before": {"penalty": before_pen, "reason": "; ".join(t["reason"] for t in stored.get("triggers", ()))},
                          "after": {"penalty": penalty, "reason": "; ".join(a.reason for a in per)}})
    breakdown = ([{"group": "severity", "key": "all", "from": a, "to": b, "count": n, "penalty_change": p}
                  for (a, b), (n, p) in sorted(moves.items())]
                 + [{"group": "region", "key": r, "from": a, "to": b, "count": n} for (r, a, b), n in sorted(by_region.items())])
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed,
                    "penalty_before": penalty_before, "penalty_after": penalty_after, "not_replayable": failed},
                   breakdown, shown)
