"""Tiering replay: the scorecards of the last run (or the runs whose month starts in the window)
through the candidate: the tier each dealer would get against the tier the run gave, as an up/down
matrix, and the tags gained and lost. Inputs are the exact figures and dealer facts a run keeps with
each scorecard (`explanation.inputs`); scorecards from before that are replayed from their shown
figures and the dealer's facts today with the tier and tags it had then."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import TierScore, TieringRun
from dealerflow.shared.dealer_facts import facts_of, select_facts
from policies_dsl import CompiledRuleset, FactError, assess_tier

TEXT_FIGURES = ("top_category",)


def _figure(name: str, value):
    if isinstance(value, str) and name not in TEXT_FIGURES:
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def inputs(row, dealers: dict) -> tuple[dict, dict]:
    """(dealer facts, figures) of a stored scorecard."""
    kept = (row.explanation or {}).get("inputs")
    if kept:
        return kept["dealer"], {k: _figure(k, v) for k, v in kept["figures"].items()}
    dealer = {**dealers.get(row.dealer_id, {}), "dealer.tier": row.old_tier, "dealer.tags": list(row.old_tags or ())}
    return dealer, {k: _figure(k, v) for k, v in (row.explanation or {}).get("figures", {}).items()}


def runs(session: Session, window: Window) -> list[str]:
    q = select(TieringRun.month)
    if window.since is None and window.until is None:
        last = session.scalar(select(func.max(TieringRun.month)))
        return [last] if last else []
    if window.since is not None:
        q = q.where(TieringRun.as_of >= window.since)
    if window.until is not None:
        q = q.where(TieringRun.as_of < window.until)
    return list(session.scalars(q.order_by(TieringRun.month)))


@replayer("tiering")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    spec = candidate.rule_file.spec
    rank = {t.name: i for i, t in enumerate(spec.tiers)}
    dealers = {r.id: {**facts_of(r), "code": r.code} for r in session.execute(select_facts())}
    matrix: dict[tuple, int] = defaultdict(int)
    gained: dict[str, int] = defaultdict(int)
    lost: dict[str, int] = defaultdict(int)
    replayed = changed = up = down = failed = 0
    shown = []
    for month in runs(session, window):
        for row in session.scalars(select(TierScore).where(TierScore.run_month == month)
                                   .order_by(TierScore.dealer_id).execution_options(yield_per=2000)):
            dealer, figures = inputs(row, dealers)
            dealer = {k: v for k, v in dealer.items() if k != "code"}
            try:
                a = assess_tier(candidate, spec, dealer, figures)
            except (FactError, KeyError, TypeError):
                failed += 1
                continue
            replayed += 1
            tags_before, tags_after = set(row.new_tags or ()), set(a.tags)
            moved = a.tier != row.new_tier
            if moved:
                matrix[(row.new_tier, a.tier)] += 1
                if rank.get(a.tier, 99) < rank.get(row.new_tier, 99):
                    up += 1
                else:
                    down += 1
            for t in tags_after - tags_before:
                gained[t] += 1
            for t in tags_before - tags_after:
                lost[t] += 1
            if moved or tags_before != tags_after:
                changed += 1
                if len(shown) < samples:
                    shown.append({"subject": dealers.get(row.dealer_id, {}).get("code", str(row.dealer_id)),
                                  "month": month, "from": row.new_tier, "to": a.tier,
                                  "before": {"score": f"{row.score:.2f}", "tags": sorted(tags_before),
                                             "reason": (row.explanation or {}).get("reason", "")},
                                  "after": {"score": f"{a.score:.2f}", "tags": sorted(tags_after),
                                            "reason": a.explanation["reason"]}})
    breakdown = ([{"group": "tier", "key": "move", "from": a, "to": b, "count": n} for (a, b), n in sorted(matrix.items())]
                 + [{"group": "tag", "key": t, "from": "", "to": "gained", "count": n} for t, n in sorted(gained.items())]
                 + [{"group": "tag", "key": t, "from": "gained", "to": "", "count": n} for t, n in sorted(lost.items())])
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed, "up": up, "down": down,
                    "not_replayable": failed}, breakdown, shown)
