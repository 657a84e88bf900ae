"""Rule files carry their own examples (`tests:`); these run them."""
from __future__ import annotations

from dataclasses import dataclass

from .engine import get_compiled
from .model import RuleFile
from .diversion import assess, observed as diversion_observed
from .rebate import accrue, figures_of, observed
from .tiering import assess_tier, observed as tiering_observed, split_given


@dataclass(frozen=True)
class RuleTestResult:
    name: str
    passed: bool
    message: str
    line: int


def run_rule_tests(rule_file: RuleFile) -> list[RuleTestResult]:
    ruleset = get_compiled(rule_file, 0)  # version 0: the file as written, deployed or not
    results = []
    for test in rule_file.tests:
        if rule_file.kind == "rebate":  # expectations on the accrued figures, not on a winning rule
            accrual = accrue(ruleset, rule_file.spec, figures_of(test.given))
            got, reason = observed(accrual), accrual.explanation["reason"]
        elif rule_file.kind == "diversion":  # expectations on the assessed alert: severity, penalty
            assessment = assess(ruleset, rule_file.spec, test.given)
            got, reason = diversion_observed(assessment), assessment.reason
        elif rule_file.kind == "tiering":  # expectations on the tier, tags and score
            tiered = assess_tier(ruleset, rule_file.spec, *split_given(test.given))
            got, reason = tiering_observed(tiered), tiered.explanation["reason"]
        else:
            decision = ruleset.decide(test.given)
            got, reason = {**decision.outcome, "rule": decision.rule}, decision.reason
        problems = [f"expected {key}={want}, got {got.get(key)}" for key, want in test.expect.items()
                    if got.get(key) != want]
        message = "; ".join(problems) + (f" ({reason})" if problems else "")
        results.append(RuleTestResult(test.name, not problems, message, test.line))
    return results
