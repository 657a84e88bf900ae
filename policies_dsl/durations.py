from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^[1-9][0-9]*(s|m|h|d)$"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """'30s', '15m', '24h', '2d' → timedelta."""
    if not isinstance(text, str) or not re.match(DURATION_PATTERN, text):
        raise ValueError(f"expected a duration like 30s, 15m, 24h or 2d, got {text!r}")
    return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
