"""What each kind of rule file holds. A rule-list kind (credit approval) declares its facts and lists
`rules` with a `default`; the schema here is that of its outcomes (`then` and `default`). A
document kind (policy) has its own section, built-in facts, and rules the validator derives from it.
A new kind of rule file (rebate, tiering, diversion) is a new entry here."""
from __future__ import annotations

from dataclasses import dataclass, field

from .durations import DURATION_PATTERN

ROLE = {"type": "string", "pattern": r"^[a-z][a-z_]*$"}
DURATION = {"type": "string", "pattern": DURATION_PATTERN}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
SHARE = {"type": "string", "pattern": r"^(100|[1-9]?[0-9])(\.[0-9]+)?%$"}


@dataclass(frozen=True)
class Kind:
    description: str
    outcome: dict  # JSON Schema of `then` / `default`
    section: str | None = None  # a document kind's own top-level key
    section_schema: dict | None = None
    facts: dict = field(default_factory=dict)  # built-in facts: name → {type, values?, description}


CREDIT_APPROVAL = Kind(
    description="Automatic credit decision for a dealer order.",
    outcome={
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
                "properties": {"role": ROLE, "sla": DURATION, "escalate_to": ROLE},
            },
        },
    },
)

# Facts about a dealer that every dealer-facing rule can read; the platform supplies them.
DEALER_FACTS = {
    "dealer.code": {"type": "string"},
    "dealer.region": {"type": "string"},
    "dealer.level": {"type": "int", "description": "1: buys from HQ, 2: buys from a level-1 dealer"},
    "dealer.tier": {"type": "string", "description": "tier from the tiering scorecard, e.g. core, key, normal"},
    "dealer.tags": {"type": "set", "description": "tags such as window_specialist, rural_market; test with \"tag\" in dealer.tags"},
    "dealer.channel": {"type": "string", "description": "channel type, e.g. retail, wholesale, online"},
}

# Figures of a pilot, read by `pilot.promote_when`.
PILOT_FACTS = {
    "pilot.dealers": {"type": "int", "description": "dealers in the pilot"},
    "pilot.acknowledgment_rate": {"type": "decimal", "description": "share of pilot dealers who acknowledged, 0 to 1"},
    "pilot.conversion_rate": {"type": "decimal", "description": "share of pilot dealers who ordered since delivery, 0 to 1"},
    "pilot.task_acceptance_rate": {"type": "decimal", "description": "share of pilot task assignments accepted, 0 to 1"},
}

EVIDENCE_TYPES = ["photo", "video", "document", "figures"]

POLICY_SECTION = {
    "description": "A policy published to the dealers its `target` selects.",
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "category", "body", "effective", "target"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "category": {"enum": ["promotion", "subsidy", "new_product", "training", "other"]},
        "body": {"type": "string", "minLength": 1, "description": "Markdown shown to dealers"},
        "effective": {
            "type": "object", "additionalProperties": False, "required": ["from", "to"],
            "properties": {"from": DATE, "to": DATE},
        },
        "target": {"type": "string", "minLength": 1,
                   "description": "A condition over dealer facts: who receives the policy"},
        "pilot": {
            "description": "Deliver first to a region-balanced share of the targets; then promote by the"
                           " figures (`promote_when`) or by an HQ decision (`decided_by`).",
            "type": "object", "additionalProperties": False, "required": ["share", "duration"],
            "properties": {
                "share": SHARE,
                "duration": DURATION,
                "promote_when": {"type": "string", "minLength": 1},
                "decided_by": {"type": "object", "additionalProperties": False, "required": ["role", "sla"],
                               "properties": {"role": ROLE, "sla": DURATION}},
            },
        },
        "acknowledgment": {
            "type": "object", "additionalProperties": False, "required": ["required"],
            "properties": {
                "required": {"type": "boolean"},
                "deadline": DURATION,
                "reminders": {"type": "array", "items": DURATION,
                              "description": "offsets from delivery at which silent dealers are reminded"},
                "escalate": {
                    "type": "array",
                    "description": "offsets from delivery at which silent dealers are escalated: first to"
                                   " their account manager, then to a role",
                    "items": {"type": "object", "additionalProperties": False, "required": ["after", "to"],
                              "properties": {"after": DURATION, "to": ROLE}},
                },
            },
        },
        "tasks": {
            "type": "array",
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["key", "title", "due", "evidence", "reviewer", "points"],
                "properties": {
                    "key": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$"},
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "instructions": {"type": "string"},
                    "due": DURATION,
                    "remind_before": DURATION,
                    "evidence": {"type": "array", "minItems": 1, "items": {"enum": EVIDENCE_TYPES}},
                    "reviewer": ROLE,
                    "review_sla": DURATION,
                    "points": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}

POLICY = Kind(
    description="A policy: content, targeting, pilot, acknowledgment and tasks.",
    outcome={"type": "object", "properties": {"targeted": {"type": "boolean"}}},
    section="policy",
    section_schema=POLICY_SECTION,
    facts=DEALER_FACTS,
)

KINDS: dict[str, Kind] = {"credit_approval": CREDIT_APPROVAL, "policy": POLICY}
