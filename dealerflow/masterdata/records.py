"""What every master record shares: a record's values as text (for the audit and for exports), the
fingerprint an edit names to prove it was made on the current values, search patterns."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal


def like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def plain(value) -> str | None:
    """A value as the audit and the fingerprint write it: money with its cents, dates ISO, lists joined."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def fingerprint(values: dict) -> str:
    """A short digest of a record's editable values, as an edit form or a GET read them (the ETag)."""
    text = json.dumps({k: plain(v) for k, v in values.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed(before: dict, after: dict) -> dict[str, tuple[str | None, str | None]]:
    """field → (before, after) as text, for the fields whose value differs."""
    out = {}
    for name, value in after.items():
        old, new = plain(before.get(name)), plain(value)
        if old != new:
            out[name] = (old, new)
    return out
