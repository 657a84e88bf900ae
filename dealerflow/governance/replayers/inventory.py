"""Inventory advice replay: each dealer × sku advised on a day in the window (default: every stored
day), from the facts stored with its advice (the kind's facts are the platform's, all of them kept),
through the candidate: the advice it would give (actions, severities, reorder quantities) against the
advice stored, with the actions gained and lost by action and by region. A pair no rule advised on
its day was not stored, so advice a candidate would add to such a pair is not counted."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import InventoryAdvice, Product
from dealerflow.shared import accounts
from policies_dsl import CompiledRuleset, FactError
from policies_dsl.kinds.inventory import advise


def _value(items) -> str:
    """As dealerflow/inventory/advice.advice_value: actions with severity and any reorder quantity."""
    return ", ".join(f"{a}:{s}" + (f" {q}" if q is not None else "") for a, s, q in sorted(items)) or "none"


def _facts(stored: dict) -> dict:
    return {k: Decimal(v) if isinstance(v, str) and k.startswith("stock.") else v for k, v in stored.items()}


def _pairs(session: Session, window: Window):
    """Stored advice grouped by day, dealer and sku (rows arrive in that order)."""
    q = (select(InventoryAdvice.day, InventoryAdvice.dealer_id, InventoryAdvice.product_id, InventoryAdvice.action,
                InventoryAdvice.severity, InventoryAdvice.quantity, InventoryAdvice.explanation, Product.sku)
         .join(Product, Product.id == InventoryAdvice.product_id))
    if window.since is not None:
        q = q.where(InventoryAdvice.day >= accounts.business_date(window.since))
    if window.until is not None:
        q = q.where(InventoryAdvice.day < accounts.business_date(window.until))
    q = q.order_by(InventoryAdvice.day, InventoryAdvice.dealer_id, InventoryAdvice.product_id, InventoryAdvice.action)
    key, group = None, []
    for row in session.execute(q.execution_options(yield_per=2000)):
        k = (row.day, row.dealer_id, row.product_id)
        if k != key and group:
            yield group
            group = []
        key = k
        group.append(row)
    if group:
        yield group


@replayer("inventory")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    spec = candidate.rule_file.spec
    gained: dict[str, int] = defaultdict(int)
    lost: dict[str, int] = defaultdict(int)
    by_region: dict[tuple, int] = defaultdict(int)
    replayed = changed = failed = 0
    shown = []
    for group in _pairs(session, window):
        first = group[0]
        stored = first.explanation or {}
        try:
            advised = advise(candidate, spec, _facts(stored.get("facts") or {}))
        except (FactError, KeyError, TypeError, ArithmeticError):
            failed += 1
            continue
        replayed += 1
        before = {(r.action, r.severity, r.quantity) for r in group}
        after = {(a.action, a.severity, a.quantity) for a in advised.advice}
        if before == after:
            continue
        changed += 1
        actions_before, actions_after = {a for a, _, _ in before}, {a for a, _, _ in after}
        region = (stored.get("facts") or {}).get("dealer.region") or "?"
        for a in actions_after - actions_before:
            gained[a] += 1
            by_region[(region, "gained", a)] += 1
        for a in actions_before - actions_after:
            lost[a] += 1
            by_region[(region, "lost", a)] += 1
        if len(shown) < samples:
            dealer = (stored.get("facts") or {}).get("dealer.code", str(first.dealer_id))
            shown.append({"subject": f"{dealer} {first.sku}", "day": first.day.isoformat(),
                          "from": _value(before), "to": _value(after), "region": region,
                          "before": {"version": stored.get("version"), "rule": ", ".join(r.explanation.get("rule", "")
                                                                                       for r in group),
                                     "reason": "; ".join(r.explanation.get("reason", "") for r in group)},
                          "after": {"rule": ", ".join(advised.matched),
                                    "reason": "; ".join(a.reason for a in advised.advice)}})
    breakdown = ([{"group": "action", "key": a, "from": "", "to": "gained", "count": n} for a, n in sorted(gained.items())]
                 + [{"group": "action", "key": a, "from": "gained", "to": "", "count": n} for a, n in sorted(lost.items())]
                 + [{"group": "region", "key": r, "from": how, "to": a, "count": n}
                    for (r, how, a), n in sorted(by_region.items())])
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed,
                    "gained": sum(gained.values()), "lost": sum(lost.values()), "not_replayable": failed},
                   breakdown, shown)
