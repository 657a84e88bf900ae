"""The `expect` of a rule-file test, checked when the file is loaded. Each kind has its own check (see
KindPlugin.expectation); these are the two it is built from: the winning rule named, for kinds
whose rules decide an outcome, or each key checked by the kind's own check, for kinds whose tests
expect figures. Every problem is reported with file:line; unknown names come with a did-you-mean."""
from __future__ import annotations

from typing import Callable

from .errors import RuleError, did_you_mean
from .loader import Document

# key → check(path, value) → (the exact value, or a problem to report)
Checks = dict[str, Callable[[tuple, object], tuple[object, str | None]]]


def checked_expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError],
                        checks: Checks) -> dict | None:
    """The expectation made exact, or None when any key is wrong (its problems go to `errors`)."""
    out, ok = {}, True
    for key, value in expect.items():
        if key not in checks:
            errors.append(doc.error(path + (key,), f"unknown expectation '{key}'{did_you_mean(key, checks)}"
                                                   f" (expected one of: {', '.join(checks)})"))
            ok = False
            continue
        out[key], problem = checks[key](path + (key,), value)
        if problem:
            errors.append(doc.error(path + (key,), problem))
            ok = False
    return out if ok else None


def expected_rule(doc: Document, path: tuple, expect: dict, errors: list[RuleError], names: list) -> dict | None:
    """Outcome keys are compared as written; `rule`, when given, must be one of `names` or default."""
    rule = expect.get("rule")
    if rule is not None and rule != "default" and rule not in names:
        errors.append(doc.error(path + ("rule",), f"no rule named '{rule}'{did_you_mean(str(rule), names)}"))
        return None
    return expect
