"""The `expect` of a document kind's rule-file test: each key checked by the kind's own check, every
problem reported with file:line, unknown keys named with a did-you-mean."""
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
