"""Rule files carry their own examples (`tests:`); these run them."""
from __future__ import annotations

from dataclasses import dataclass

from .engine import get_compiled
from .model import RuleFile


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
        decision = ruleset.decide(test.given)
        problems = []
        for key, want in test.expect.items():
            got = decision.rule if key == "rule" else decision.outcome.get(key)
            if got != want:
                problems.append(f"expected {key}={want}, got {got}")
        message = "; ".join(problems) + (f" ({decision.reason})" if problems else "")
        results.append(RuleTestResult(test.name, not problems, message, test.line))
    return results
