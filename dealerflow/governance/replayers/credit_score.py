"""Credit scoring replay: the scorecards of the last run (or of the runs whose month starts in the
window) through the candidate: the rating and proposed limit each dealer would get against the run's,
as a rating move matrix and by region, with the limits' totals before and after. Inputs are the exact
dealer facts and figures a run keeps with each scorecard (`explanation.inputs`); scorecards from
before that are replayed from their stored figures and the dealer's facts today, with the rating and
limit it had then."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import CreditRun, CreditScore
from dealerflow.shared.dealer_facts import facts_of, select_facts
from policies_dsl import CompiledRuleset, FactError, assess_credit

ZERO = Decimal("0.00")


def _number(value):
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def inputs(row: CreditScore, dealers: dict) -> tuple[dict, dict]:
    """(dealer facts, figures) of a stored scorecard."""
    kept = (row.explanation or {}).get("inputs")
    if kept:
        dealer, figures = dict(kept["dealer"]), kept["figures"]
    else:
        dealer, figures = dict(dealers.get(row.dealer_id, {})), row.figures or {}
        dealer.update({"dealer.rating": row.old_rating, "dealer.credit_limit": row.old_limit})
    dealer["dealer.credit_limit"] = Decimal(str(dealer.get("dealer.credit_limit") or 0))
    return dealer, {k: _number(v) for k, v in figures.items()}


def runs(session: Session, window: Window) -> list[str]:
    if window.since is None and window.until is None:
        last = session.scalar(select(func.max(CreditRun.month)))
        return [last] if last else []
    q = select(CreditRun.month)
    if window.since is not None:
        q = q.where(CreditRun.as_of >= window.since)
    if window.until is not None:
        q = q.where(CreditRun.as_of < window.until)
    return list(session.scalars(q.order_by(CreditRun.month)))


@replayer("credit_score")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    spec = candidate.rule_file.spec
    rank = {r.name: i for i, r in enumerate(spec.ratings)}
    dealers = {r.id: {**facts_of(r), "code": r.code} for r in session.execute(select_facts())}
    matrix: dict[tuple, list] = defaultdict(lambda: [0, ZERO])
    by_region: dict[tuple, int] = defaultdict(int)
    replayed = changed = up = down = failed = 0
    limits_before = limits_after = ZERO
    shown = []
    for month in runs(session, window):
        for row in session.scalars(select(CreditScore).where(CreditScore.run_month == month)
                                   .order_by(CreditScore.dealer_id).execution_options(yield_per=2000)):
            dealer, figures = inputs(row, dealers)
            code = dealer.pop("code", None) or dealers.get(row.dealer_id, {}).get("code", str(row.dealer_id))
            try:
                a = assess_credit(candidate, spec, dealer, figures)
            except (FactError, KeyError, TypeError, InvalidOperation):
                failed += 1
                continue
            replayed += 1
            limits_before += row.proposed_limit
            limits_after += a.limit
            if (a.rating, a.limit) == (row.new_rating, row.proposed_limit):
                continue
            changed += 1
            if a.rating != row.new_rating:
                if rank.get(a.rating, 99) < rank.get(row.new_rating, 99):
                    up += 1
                else:
                    down += 1
            cell = matrix[(row.new_rating, a.rating)]
            cell[0] += 1
            cell[1] += a.limit - row.proposed_limit
            by_region[(dealer.get("dealer.region") or "?", row.new_rating, a.rating)] += 1
            if len(shown) < samples:
                shown.append({"subject": code, "month": month, "from": f"{row.new_rating} {row.proposed_limit:.2f}",
                              "to": f"{a.rating} {a.limit:.2f}", "amount": f"{a.limit - row.proposed_limit:.2f}",
                              "before": {"score": f"{row.score:.2f}", "rule": row.override or row.new_rating,
                                         "reason": (row.explanation or {}).get("reason", "")},
                              "after": {"score": f"{a.score:.2f}", "rule": a.override or a.rating,
                                        "reason": a.explanation["reason"]}})
    breakdown = ([{"group": "rating", "key": "move", "from": a, "to": b, "count": n, "amount": f"{amt:.2f}"}
                  for (a, b), (n, amt) in sorted(matrix.items())]
                 + [{"group": "region", "key": r, "from": a, "to": b, "count": n}
                    for (r, a, b), n in sorted(by_region.items())])
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed, "up": up, "down": down,
                    "limits_before": f"{limits_before:.2f}", "limits_after": f"{limits_after:.2f}",
                    "difference": f"{limits_after - limits_before:.2f}", "not_replayable": failed},
                   breakdown, shown)
