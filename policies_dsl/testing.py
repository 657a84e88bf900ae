"""Rule files carry their own examples (`tests:`); these run them."""
from __future__ import annotations

from dataclasses import dataclass

from .engine import get_compiled
from .model import RuleFile
from .rebate import accrue, figures_of, observed


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
        else:
            decision = ruleset.decide(test.given)
            got, reason = {**decision.outcome, "rule": decision.rule}, decision.reason
        problems = [f"expected {key}={want}, got {got.get(key)}" for key, want in test.expect.items()
                    if got.get(key) != want]
        message = "; ".join(problems) + (f" ({reason})" if problems else "")
        results.append(RuleTestResult(test.name, not problems, message, test.line))
    return results
