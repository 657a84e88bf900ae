"""What each kind of rule file holds. A rule-list kind (credit approval) declares its facts and lists
`rules` with a `default`; the schema here is that of its outcomes (`then` and `default`). A
document kind (policy) has its own section, built-in facts, and rules the validator derives from it.
A new kind of rule file (tiering, diversion) is a new entry here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .durations import DURATION_PATTERN

ROLE = {"type": "string", "pattern": r"^[a-z][a-z_]*$"}
DURATION = {"type": "string", "pattern": DURATION_PATTERN}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
SHARE = {"type": "string", "pattern": r"^(100(\.0+)?|[1-9]?[0-9](\.[0-9]+)?)%$"}  # 0% to 100%, nothing above
# Money and numbers are quoted text or YAML numbers; the pattern applies to text only, and the
# semantic check reads a number's source text (never a float) for its exact value.
MONEY = {"type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "minimum": 0,
         "description": "an amount: text like \"5000.00\" or a number with at most 2 decimals"}
NUMBER = {"type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]+)?$", "minimum": 0}
CODE = {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,31}$"}

# What the patterns above mean, for error messages a business admin can act on.
PATTERN_MEANING = {
    SHARE["pattern"]: "a share like 2% or 12.5% (0% to 100%)",
    MONEY["pattern"]: "an amount like 5000.00",
    NUMBER["pattern"]: "a number like 300000 or 2500.50",
    CODE["pattern"]: "a code like window (lower case, digits, underscores, at most 32)",
}


@dataclass(frozen=True)
class Kind:
    description: str
    outcome: dict  # JSON Schema of `then` / `default`
    section: str | None = None  # a document kind's own top-level key
    section_schema: dict | None = None
    # built-in facts: name → {type, values?, description}, or a function of the section when a
    # file's own choices change them (a rebate's measure is money or a count)
    facts: dict | Callable[[dict], dict] = field(default_factory=dict)
    derived: dict = field(default_factory=dict)  # facts computed from others, never given: name → sources

    def facts_for(self, section: dict | None) -> dict:
        return self.facts(section) if callable(self.facts) else self.facts


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

ROLE_SLA = {"type": "object", "additionalProperties": False, "required": ["role", "sla"],
            "properties": {"role": ROLE, "sla": DURATION}}
PERIODS = ["month", "quarter", "year"]

REBATE_SECTION = {
    "description": "A rebate program: dealers meeting `eligible` earn on the period's measure by a ladder of"
                   " brackets, plus extras, settled in statements that dealers confirm or dispute.",
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "measure", "period", "eligible", "basis", "brackets", "settlement"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "measure": {"enum": ["net_delivered_amount", "net_delivered_quantity"],
                    "description": "what the ladder reads: delivered amount or units, less returns, in the period"},
        "category": {**CODE, "description": "count only products of this category, e.g. window"},
        "period": {"enum": PERIODS, "description": "the span a settlement covers"},
        "interim": {"enum": ["month", "quarter"],
                    "description": "runs inside the period paying what was earned so far, less what was paid;"
                                   " shorter than the period"},
        "eligible": {"type": "string", "minLength": 1, "description": "A condition over dealer facts: who takes part"},
        "basis": {"enum": ["retroactive", "incremental"],
                  "description": "retroactive: the whole measure at the bracket reached; incremental: each slice"
                                 " at its own bracket"},
        "brackets": {
            "type": "array", "minItems": 1,
            "description": "rising thresholds of the measure; each pays a share (`rate`) or a fixed `amount`",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["from"],
                "properties": {
                    "from": {**NUMBER, "description": "the measure at which the bracket starts (included)"},
                    "rate": {**SHARE, "description": "share of the measure (amount measures only)"},
                    "amount": {**MONEY, "description": "a fixed sum for reaching the bracket"},
                },
            },
        },
        "cap": {**MONEY, "description": "the most the ladder and extras pay a dealer in a period"},
        "extras": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "growth": {"type": "object", "additionalProperties": False, "required": ["over", "rate"],
                           "description": "growth over the same span a year earlier above `over` adds `rate` of"
                                          " the measure",
                           "properties": {"over": SHARE, "rate": SHARE}},
                "anniversary": {"type": "object", "additionalProperties": False, "required": ["years", "rate"],
                                "description": "a cooperation anniversary in the period adds `rate` of the measure",
                                "properties": {"years": {"type": "array", "minItems": 1,
                                                         "items": {"type": "integer", "minimum": 1}},
                                               "rate": SHARE}},
                "points": {"type": "object", "additionalProperties": False, "required": ["per_point"],
                           "description": "unconverted points are paid at `per_point` each",
                           "properties": {"per_point": MONEY}},
            },
        },
        "settlement": {
            "type": "object", "additionalProperties": False, "required": ["confirm_within", "disputes", "approval"],
            "properties": {
                "confirm_within": {**DURATION, "description": "dealers confirm or dispute a statement within this"},
                "disputes": {**ROLE_SLA, "description": "who resolves a disputed statement"},
                "approval": {**ROLE_SLA, "description": "who approves a run before it is posted"},
                "second_approval": {
                    "type": "object", "additionalProperties": False, "required": ["over", "role", "sla"],
                    "description": "a second approver for runs whose total is above `over`",
                    "properties": {"over": MONEY, "role": ROLE, "sla": DURATION},
                },
            },
        },
    },
}


def rebate_facts(section: dict) -> dict:
    """A rebate's facts: the measure is money or a count of units, by the file's `measure`."""
    unit = "money" if section["measure"] == "net_delivered_amount" else "int"
    return {
        **DEALER_FACTS,
        "dealer.years": {"type": "int", "description": "full years of cooperation"},
        "measure": {"type": unit, "description": "the period's measure so far"},
        "prior_measure": {"type": unit, "description": "the same span one year earlier"},
        "growth": {"type": "decimal", "description": "(measure - prior_measure) / prior_measure; 0 without a prior"},
        "anniversary": {"type": "int", "description": "the cooperation anniversary falling in the period, 0 for none"},
        "points": {"type": "int", "description": "unconverted points"},
    }


REBATE = Kind(
    description="A rebate program: eligibility, bracket ladder, extras and settlement.",
    outcome={"type": "object", "properties": {"eligible": {"type": "boolean"}, "bracket": {"type": "integer"}}},
    section="rebate",
    section_schema=REBATE_SECTION,
    facts=rebate_facts,
    derived={"growth": ("measure", "prior_measure")},
)

KINDS: dict[str, Kind] = {"credit_approval": CREDIT_APPROVAL, "policy": POLICY, "rebate": REBATE}
