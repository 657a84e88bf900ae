"""What each kind of rule file may decide: the JSON Schema of its outcomes (`then` and `default`).
A new kind of rule file (policy, rebate, tiering, diversion) is a new entry here."""
from __future__ import annotations

from .durations import DURATION_PATTERN

ROLE = {"type": "string", "pattern": r"^[a-z][a-z_]*$"}

KINDS: dict[str, dict] = {
    "credit_approval": {
        "description": "Automatic credit decision for a dealer order.",
        "type": "object",
        "additionalProperties": False,
        "required": ["decision"],
        "properties": {
            "decision": {"enum": ["approve", "review", "reject"]},
            "reason": {"type": "string"},
            "task": {
                "description": "The human review a `review` decision opens.",
                "type": "object",
                "additionalProperties": False,
                "required": ["role", "sla"],
                "properties": {
                    "role": ROLE,
                    "sla": {"type": "string", "pattern": DURATION_PATTERN},
                    "escalate_to": ROLE,
                },
            },
        },
    },
}
