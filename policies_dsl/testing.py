"""Rule files carry their own examples (`tests:`); these run them. The file's kind says what a test
observes — a winning rule's outcome, accrued figures, a tier, an alert — for its `expect` to compare."""
from __future__ import annotations

from dataclasses import dataclass

from .engine import get_compiled
from .kinds import kind
from .model import RuleFile


@dataclass(frozen=True)
class RuleTestResult:
    name: str
    passed: bool
    message: str
    line: int


def run_rule_tests(rule_file: RuleFile) -> list[RuleTestResult]:
    ruleset = get_compiled(rule_file, 0)  # version 0: the file as written, deployed or not
    run = kind(rule_file.kind).run
    results = []
    for test in rule_file.tests:
        got, reason = run(ruleset, test.given)
        problems = [f"expected {key}={want}, got {got.get(key)}" for key, want in test.expect.items()
                    if got.get(key) != want]
        message = "; ".join(problems) + (f" ({reason})" if problems else "")
        results.append(RuleTestResult(test.name, not problems, message, test.line))
    return results
