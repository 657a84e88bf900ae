"""Service target replay: every request's terms as decided when it was filed or retargeted (the
category and the dealer's tier, kept in its event: the only inputs the service file reads) through
the candidate: the response and resolution targets it would set against those set, by category and
tier, and how many targets tighten or loosen."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealerflow.governance.replay import Outcome, Window, replayer
from dealerflow.models import ServiceEvent, ServiceRequest
from policies_dsl import CompiledRuleset, FactError
from policies_dsl.kinds.service import terms


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def _value(targets: dict) -> str:
    return f"{_hours(int(targets['response']))}/{_hours(int(targets['resolution']))}"


@replayer("service")
def replay(session: Session, candidate: CompiledRuleset, window: Window, samples: int) -> Outcome:
    spec = candidate.rule_file.spec
    q = (select(ServiceEvent.action, ServiceEvent.detail, ServiceEvent.at, ServiceRequest.number,
                ServiceRequest.category, ServiceRequest.region)
         .join(ServiceRequest, ServiceRequest.id == ServiceEvent.request_id)
         .where(ServiceEvent.action.in_(("filed", "retargeted"))))
    if window.since is not None:
        q = q.where(ServiceEvent.at >= window.since)
    if window.until is not None:
        q = q.where(ServiceEvent.at < window.until)
    moves: dict[tuple, int] = defaultdict(int)
    by_region: dict[tuple, int] = defaultdict(int)
    replayed = changed = tighter = looser = failed = 0
    shown = []
    for e in session.execute(q.order_by(ServiceEvent.id).execution_options(yield_per=2000)):
        detail = e.detail or {}
        filed = e.action == "filed"
        tier = detail.get("tier") if filed else detail.get("to")
        stored = detail.get("targets") if filed else detail.get("targets_after")
        try:
            t = terms(candidate, spec, category=detail.get("category") or e.category, tier=tier)
            before = {"response": int(stored["response"]), "resolution": int(stored["resolution"])}
        except (FactError, KeyError, TypeError, ValueError):
            failed += 1
            continue
        replayed += 1
        after = {"response": t.target.response, "resolution": t.target.resolution}
        if after == before:
            continue
        changed += 1
        tighter += after["resolution"] < before["resolution"] or after["response"] < before["response"]
        looser += after["resolution"] > before["resolution"] or after["response"] > before["response"]
        category = detail.get("category") or e.category
        moves[(f"{category} · {tier}", _value(before), _value(after))] += 1
        by_region[(e.region, _value(before), _value(after))] += 1
        if len(shown) < samples:
            shown.append({"subject": f"#{e.number}", "event": e.action, "category": category, "tier": tier,
                          "from": _value(before), "to": _value(after), "region": e.region,
                          "before": {"version": detail.get("version"), "rule": detail.get("rule", ""),
                                     "reason": detail.get("reason", "")},
                          "after": {"rule": t.rule, "reason": t.reason}})
    breakdown = ([{"group": "category", "key": k, "from": a, "to": b, "count": n} for (k, a, b), n in sorted(moves.items())]
                 + [{"group": "region", "key": r, "from": a, "to": b, "count": n}
                    for (r, a, b), n in sorted(by_region.items())])
    return Outcome({"replayed": replayed, "changed": changed, "unchanged": replayed - changed, "tighter": tighter,
                    "looser": looser, "not_replayable": failed}, breakdown, shown)
