"""Stock allocation replay: every stored allocation decision (a short order's) through the candidate,
from the facts kept with it (all the platform supplied, `explanation.inputs`; decisions stored before
those were kept: the facts the file then read, the others at the kind's defaults), and the decisions
whose action or supply priority changes, counted with their order amounts, by action, region and tier."""
from __future__ import annotations

from collections import defaultdict, deque
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import Decision
from dealerflow.stock.allocation import SUBJECT
from policies_dsl import CompiledRuleset, FactError
from policies_dsl.kinds.allocation import with_defaults

ZERO = Decimal("0.00")


def _value(outcome: dict) -> str:
    return f"{outcome.get('allocate')} p{outcome.get('priority')}"


@replayer("allocation")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    q = select(Decision).where(Decision.subject_type == SUBJECT, Decision.ruleset == candidate.name)
    if window.since is not None:
        q = q.where(Decision.decided_at >= window.since)
    if window.until is not None:
        q = q.where(Decision.decided_at < window.until)
    tables: dict[str, dict] = {"action": defaultdict(lambda: [0, ZERO]), "region": defaultdict(lambda: [0, ZERO]),
                               "tier": defaultdict(lambda: [0, ZERO])}
    replayed = changed = failed = priority_up = priority_down = 0
    amount_changed = ZERO
    shown: deque = deque(maxlen=samples)  # the latest flips: the ones an admin remembers
    for d in session.scalars(q.order_by(Decision.id).execution_options(yield_per=2000)):
        explanation, context = d.explanation or {}, d.context or {}
        facts = explanation.get("inputs") or explanation.get("facts") or {}
        try:
            after = candidate.decide(with_defaults(candidate, facts))
        except FactError:
            failed += 1
            continue
        replayed += 1
        before, now = _value(d.outcome), _value(after.outcome)
        if before == now:
            continue
        changed += 1
        was, becomes = int(d.outcome.get("priority", 0)), int(after.outcome.get("priority", 0))
        priority_up += becomes > was
        priority_down += becomes < was
        amount = Decimal(context.get("amount") or facts.get("order.amount") or "0")
        amount_changed += amount
        region = context.get("region") or facts.get("dealer.region") or "?"
        tier = context.get("tier") or facts.get("dealer.tier") or "?"
        for group, key in (("action", "all"), ("region", region), ("tier", tier)):
            cell = tables[group][(key, d.outcome.get("allocate"), after.outcome.get("allocate"))]
            cell[0] += 1
            cell[1] += amount
        if samples:
            shown.append({"subject": d.subject_id, "from": before, "to": now, "amount": f"{amount:.2f}",
                          "region": region, "tier": tier,
                          "before": {"version": d.version, "rule": d.rule, "reason": explanation.get("reason", "")},
                          "after": {"rule": after.rule, "reason": after.reason}})
    breakdown = [{"group": group, "key": key, "from": a, "to": b, "count": n, "amount": f"{amt:.2f}"}
                 for group, table in tables.items() for (key, a, b), (n, amt) in sorted(table.items())]
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed,
                    "amount_changed": f"{amount_changed:.2f}", "priority_up": priority_up,
                    "priority_down": priority_down, "not_replayable": failed}, breakdown, list(shown))
