"""Credit approval replay: every stored order decision's facts (as they were at decision time, kept
in its explanation) through the candidate, and the decisions that flip (approve→review, …) counted
with their order amounts, by region and tier at decision time (the decision's context; for decisions
stored before the context was kept, the dealer's region and tier today)."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import Dealer, Decision, Order
from policies_dsl import CompiledRuleset, FactError

RULESET = "credit_approval"
BATCH = 5000
ZERO = Decimal("0.00")


def stored(session: Session, window: Window):
    """The stored decisions in the window, streamed in id order."""
    q = (select(Decision.id, Decision.subject_id, Decision.outcome["decision"].as_string().label("decision"),
                Decision.rule, Decision.version, Decision.explanation["facts"].label("facts"),
                Decision.explanation["reason"].as_string().label("reason"), Decision.context,
                Dealer.region, Dealer.tier)
         .outerjoin(Order, cast(Order.id, String) == Decision.subject_id)
         .outerjoin(Dealer, Dealer.id == Order.dealer_id)
         .where(Decision.ruleset == RULESET, Decision.subject_type == "order"))
    if window.since is not None:
        q = q.where(Decision.decided_at >= window.since)
    if window.until is not None:
        q = q.where(Decision.decided_at < window.until)
    return session.execute(q.order_by(Decision.id).execution_options(yield_per=BATCH))


def replay_rows(candidate: CompiledRuleset, rows, samples: int) -> Outcome:
    """The pure part: rows of (subject_id, decision, rule, version, facts, reason, context, region, tier)."""
    declared = candidate.rule_file.facts
    moves: dict[tuple, list] = defaultdict(lambda: [0, ZERO])
    by_region: dict[tuple, list] = defaultdict(lambda: [0, ZERO])
    by_tier: dict[tuple, list] = defaultdict(lambda: [0, ZERO])
    replayed = changed = failed = 0
    amount_changed = ZERO
    shown: list[dict] = []
    errors: dict[str, int] = defaultdict(int)
    for row in rows:
        facts = row.facts or {}
        context = row.context or {}
        try:
            after = candidate.decide({k: v for k, v in facts.items() if k in declared})
        except FactError as e:
            failed += 1
            errors[str(e)] += 1
            continue
        replayed += 1
        before, now = row.decision, after.outcome["decision"]
        if before == now:
            continue
        changed += 1
        amount = Decimal(context.get("amount") or facts.get("order.amount") or "0")
        amount_changed += amount
        region = context.get("region") or row.region or "?"
        tier = context.get("tier") or row.tier or "?"
        for table, key in ((moves, "all"), (by_region, region), (by_tier, tier)):
            cell = table[(key, before, now)]
            cell[0] += 1
            cell[1] += amount
        if len(shown) < samples:
            shown.append({"subject": row.subject_id, "from": before, "to": now, "amount": f"{amount:.2f}",
                          "region": region, "tier": tier, "facts": facts,
                          "before": {"version": row.version, "rule": row.rule, "reason": row.reason},
                          "after": {"rule": after.rule, "reason": after.reason,
                                    **({"reason_zh": after.reason_zh} if after.reason_zh else {})}})
    breakdown = [{"group": group, "key": key, "from": a, "to": b, "count": n, "amount": f"{amt:.2f}"}
                 for group, table in (("transition", moves), ("region", by_region), ("tier", by_tier))
                 for (key, a, b), (n, amt) in sorted(table.items())]
    totals = {"replayed": replayed, "changed": changed, "unchanged": replayed - changed,
              "amount_changed": f"{amount_changed:.2f}", "not_replayable": failed}
    if errors:
        totals["errors"] = dict(sorted(errors.items(), key=lambda x: -x[1])[:5])
    return Outcome(totals, breakdown, shown)


@replayer("credit_approval")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    return replay_rows(candidate, stored(session, window), samples)
