"""What-if replay: a candidate rule file evaluated over the stored inputs of past decisions of its
kind, compared with what was decided. Each kind has one replayer (a plugin registered with
`@replayer(kind)`), which streams its stored inputs (memory stays flat) and returns totals, a breakdown
and sample rows with both explanations. `run` validates the candidate, runs the replayer and stores the
report (dealerflow/governance/reports.py). A kind without a replayer is refused, never guessed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid
from dealerflow.shared import accounts, rulebook
from policies_dsl import CompiledRuleset, RuleFile, compile_rule_file, load_rule_file

MAX_SAMPLES = 50
DEFAULT_SAMPLES = 20


@dataclass(frozen=True)
class Window:
    """Decisions taken at or after `since` and before `until` (None: open)."""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of_days(cls, since: date | None, until: date | None) -> "Window":
        """Business days in Beijing time, both included."""
        if since and until and until < since:
            raise Invalid(f"the window ends ({until}) before it starts ({since})", field="until")
        return cls(accounts.day_start(since) if since else None,
                   accounts.day_start(date.fromordinal(until.toordinal() + 1)) if until else None)

    def describe(self) -> str:
        def shown(t):
            return accounts.business_date(t).isoformat() if t else "…"
        return f"{shown(self.since)} – {shown(self.until)}"


@dataclass
class Outcome:
    """What a replayer found. totals["replayed"]: inputs evaluated; totals["changed"]: those whose
    result differs (the figure a CI gate compares with its threshold)."""
    totals: dict
    breakdown: list = field(default_factory=list)  # {group, key, from, to, count, amount}
    samples: list = field(default_factory=list)  # {subject, from, to, amount, before: {...}, after: {...}}


Replayer = Callable[[Session, CompiledRuleset, Window, int], Outcome]
REPLAYERS: dict[str, Replayer] = {}


def replayer(kind: str):
    """Register the replay of a kind of rule file (one per kind)."""
    def register(fn: Replayer) -> Replayer:
        REPLAYERS[kind] = fn
        return fn
    return register


class EmptyWindow(Invalid):
    pass


def candidate(session: Session, filename: str, text: str) -> RuleFile:
    """The candidate file, loaded as a deploy would (RuleFileError: file:line path: message), of the
    kind its ruleset already has, and of a kind that can be replayed."""
    rule_file = load_rule_file(filename, text)
    rulebook.check_name(filename, rule_file)
    kind = rulebook.stored_kind(session, rule_file.name) or rulebook.PLATFORM_RULESETS.get(rule_file.name)
    if kind is not None and kind != rule_file.kind:
        raise Conflict(f"ruleset '{rule_file.name}' is of kind {kind}; this file is of kind {rule_file.kind}",
                       errors=[{"file": filename, "line": 1, "path": "kind",
                                "message": f"ruleset '{rule_file.name}' is of kind {kind}, not {rule_file.kind}"}])
    if rule_file.kind not in REPLAYERS:
        raise Invalid(f"files of kind {rule_file.kind} cannot be replayed yet (kinds: {', '.join(sorted(REPLAYERS))})",
                      errors=[{"file": filename, "line": 1, "path": "kind",
                               "message": f"no replay for kind {rule_file.kind}"}])
    return rule_file


def evaluate(session: Session, rule_file: RuleFile, window: Window, samples: int = DEFAULT_SAMPLES) -> Outcome:
    """Run the kind's replayer over the window (EmptyWindow when it holds nothing to replay)."""
    compiled = compile_rule_file(rule_file, 0)  # a candidate: version 0, never cached
    try:
        outcome = REPLAYERS[rule_file.kind](session, compiled, window, max(0, min(samples, MAX_SAMPLES)))
    finally:
        compiled.close()
    if not outcome.totals.get("replayed"):
        raise EmptyWindow(f"no stored {rule_file.kind} decisions to replay in {window.describe()}: widen the window",
                          field="since")
    return outcome


from dealerflow.governance import replayers  # noqa: E402,F401  (registers every kind's replayer)
