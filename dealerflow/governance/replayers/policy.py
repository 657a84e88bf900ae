"""Policy targeting replay: today's dealers through the candidate's targeting and through the active
version (none: a first publication): who would be targeted in and out, by region."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.shared import rulebook, tier_benefits
from dealerflow.shared.dealer_facts import facts_of, select_facts
from policies_dsl import CompiledRuleset


@replayer("policy")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    try:
        active = rulebook.active(session, candidate.name)
    except rulebook.UnknownRuleset:
        active = None
    moves: dict[tuple, int] = defaultdict(int)
    replayed = targeted_in = targeted_out = targets = 0
    shown = []
    benefits = tier_benefits.acts(session)
    for row in session.execute(select_facts().execution_options(yield_per=2000)):
        facts = {**facts_of(row), **tier_benefits.facts(row.tier, benefits)}
        after = candidate.decide(facts)
        before = active.decide(facts) if active is not None else None
        was, now = bool(before and before.outcome.get("targeted")), bool(after.outcome.get("targeted"))
        replayed += 1
        targets += now
        if was == now:
            continue
        targeted_in += now
        targeted_out += was
        moves[(row.region, "in" if now else "out")] += 1
        if len(shown) < samples:
            shown.append({"subject": row.code, "from": "targeted" if was else "not targeted",
                          "to": "targeted" if now else "not targeted", "region": row.region,
                          "before": {"version": active.version if active else None,
                                     "reason": before.reason if before else "not published"},
                          "after": {"reason": after.reason}})
    breakdown = [{"group": "region", "key": r, "from": "", "to": d, "count": n} for (r, d), n in sorted(moves.items())]
    return Outcome({"replayed": replayed, "changed": targeted_in + targeted_out, "targeted_in": targeted_in,
                    "targeted_out": targeted_out, "targets": targets}, breakdown, shown)
