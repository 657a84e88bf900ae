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
    defaults: dict = field(default_factory=dict)  # facts a test may leave out: name → the value they take

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
    "dealer.credit_points": {"type": "int", "description": "anti-diversion credit points: 100, less the penalties of"
                                                          " confirmed diversion cases, plus points earned back"},
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

TRIGGERS = ["out_of_region", "price", "regional_excess", "stock_up", "unknown_code"]
SEVERITIES = ["low", "medium", "high"]  # in rising order
SEVERITY = {"enum": SEVERITIES}
POINTS = {"type": "integer", "minimum": 0}


def _trigger(description: str, required: list, **properties) -> dict:
    return {"description": description, "type": "object", "additionalProperties": False,
            "required": [*required, "severity"], "properties": {**properties, "severity": SEVERITY}}


DIVERSION_SECTION = {
    "description": "Anti-diversion (窜货管控): the triggers that raise alerts, with their thresholds and severity;"
                   " who investigates the cases alerts open; what a confirmed case costs the dealer in credit"
                   " points, and what a clean quarter earns back.",
    "type": "object",
    "additionalProperties": False,
    "required": ["triggers", "investigation", "penalties"],
    "properties": {
        "triggers": {
            "description": "a trigger left out raises no alerts",
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {
                "out_of_region": _trigger("a scan outside the region the code was shipped to", []),
                "price": _trigger("a reported price under the guide price by more than `under_guide_by`",
                                  ["under_guide_by"], under_guide_by=SHARE),
                "regional_excess": _trigger(
                    "a dealer's shipments of a product in the `window` above `over_region_average` times the"
                    " average of the dealers of its region", ["over_region_average", "window"],
                    over_region_average={**NUMBER, "description": "a factor, e.g. 2 for twice the average"},
                    min_units={**POINTS, "description": "fewer units shipped in the window never alert"},
                    window=DURATION),
                "stock_up": _trigger(
                    "a dealer's shipments of a product in the `window` above `over_own_average` times its own"
                    " average over the `trailing` span before it (per window); no history, no stock-up",
                    ["over_own_average", "window", "trailing"],
                    over_own_average={**NUMBER, "description": "a factor, e.g. 3 for three times its own average"},
                    min_units={**POINTS, "description": "fewer units shipped in the window never alert"},
                    window=DURATION, trailing=DURATION),
                "unknown_code": _trigger("a scan of a code that was never registered: possible counterfeit", []),
            },
        },
        "escalate": {
            "description": "rules that raise a case's severity: when `when` holds for an alert, its severity is at"
                           " least `severity`",
            "type": "array",
            "items": {"type": "object", "additionalProperties": False, "required": ["name", "when", "severity"],
                      "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
                                     "description": {"type": "string"},
                                     "when": {"type": "string", "minLength": 1}, "severity": SEVERITY}},
        },
        "investigation": {**ROLE_SLA, "properties": {**ROLE_SLA["properties"], "escalate_to": ROLE},
                          "description": "who confirms or dismisses a case, within the SLA"},
        "penalties": {
            "type": "object", "additionalProperties": False, "required": ["points"],
            "properties": {
                "points": {"description": "credit points a confirmed case costs the dealer, by its severity",
                           "type": "object", "additionalProperties": False, "required": SEVERITIES,
                           "properties": {s: POINTS for s in SEVERITIES}},
                "earn_back": {"description": "points a quarter without a confirmed case earns, up to `up_to`",
                              "type": "object", "additionalProperties": False, "required": ["clean_quarter", "up_to"],
                              "properties": {"clean_quarter": POINTS, "up_to": {"type": "integer", "minimum": 1}}},
            },
        },
    },
}

# What a case's alert shows the rules; one engine call per trigger found in a case, never per scan.
DIVERSION_FACTS = {
    **DEALER_FACTS,
    "dealer.confirmed_cases": {"type": "int", "description": "the dealer's diversion cases confirmed in the last 365 days"},
    "alert.trigger": {"type": "enum", "values": TRIGGERS},
    "alert.scans": {"type": "int", "description": "scans behind the alert (0 for a shipment pattern)"},
    "alert.price_gap": {"type": "decimal", "description": "how far the lowest reported price is under the guide"
                                                          " price, as a share: 0.25 for 25% under"},
    "alert.ratio": {"type": "decimal", "description": "the window's shipments over the average they are compared with"},
    "alert.units": {"type": "int", "description": "units shipped in the window"},
}

DIVERSION = Kind(
    description="Anti-diversion: alert triggers and thresholds, severity, investigation and credit-point penalties.",
    outcome={"type": "object", "properties": {"alert": {"type": "boolean"}, "severity": SEVERITY}},
    section="diversion",
    section_schema=DIVERSION_SECTION,
    facts=DIVERSION_FACTS,
    defaults={"dealer.confirmed_cases": 0, "alert.scans": 0, "alert.price_gap": "0", "alert.ratio": "0",
              "alert.units": 0},
)

# --- tiering ---------------------------------------------------------------------------------------

SIGNED = {"type": ["string", "number"], "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
SCORE = {"type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]+)?$", "minimum": 0, "maximum": 100,
         "description": "points, 0 to 100"}
SILENCE = {"type": "string", "pattern": r"^[1-9][0-9]*( months?|s|m|h|d)$"}
PATTERN_MEANING.update({SIGNED["pattern"]: "a number like 0.5 or -0.2",
                        SILENCE["pattern"]: "a period like 6 months, 180d or 30s"})
POINT = {"type": "object", "additionalProperties": False, "required": ["at", "score"],
         "properties": {"at": {**SIGNED, "description": "a value of the figure"}, "score": SCORE}}
FIGURE = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}

TIERING_SECTION = {
    "description": "Dealer tiering (分层运营): a weighted scorecard over figures the platform computes, tier"
                   " thresholds, overrides and tag rules, the benefits of each tier, and silent dealers.",
    "type": "object",
    "additionalProperties": False,
    "required": ["dimensions", "tiers"],
    "properties": {
        "dimensions": {
            "type": "array", "minItems": 1,
            "description": "the scorecard: each dimension scores a figure 0-100; the weights add up to 100%",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["key", "weight", "from"],
                "properties": {
                    "key": CODE,
                    "title": {"type": "string", "minLength": 1, "maxLength": 100},
                    "description": {"type": "string"},
                    "weight": SHARE,
                    "from": {"type": ["string", "array"], "pattern": FIGURE["pattern"], "items": FIGURE, "minItems": 1,
                             "description": "the figure scored; with several, their scores are averaged"},
                    "scale": {"type": "array", "minItems": 2, "items": POINT,
                              "description": "a line through the points; below the first and above the last, flat"},
                    "bands": {"type": "array", "minItems": 1, "items": POINT,
                              "description": "steps: the score of the highest `at` reached; below the first, 0"},
                    "missing": {**SCORE, "description": "the score when the figure has no value (e.g. no policy"
                                                        " was due): default 0"},
                },
            },
        },
        "tiers": {
            "type": "array", "minItems": 2,
            "description": "from the highest down: a dealer's score reaches the first `min_score` it is at or above;"
                           " the last tier has none",
            "items": {"type": "object", "additionalProperties": False, "required": ["name"],
                      "properties": {"name": CODE, "title": {"type": "string", "minLength": 1, "maxLength": 100},
                                     "min_score": SCORE,
                                     "benefits": {"type": "array", "items": {"type": "string", "minLength": 1},
                                                  "description": "what the tier brings, shown to dealers and HQ"}}},
        },
        "overrides": {
            "type": "array",
            "description": "tier changes the score alone would not make; the first that holds wins",
            "items": {"type": "object", "additionalProperties": False, "required": ["name", "when", "to"],
                      "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
                                     "description": {"type": "string"},
                                     "from": {"type": "array", "minItems": 1, "items": CODE,
                                              "description": "the tiers by score it applies to (default: every tier)"},
                                     "when": {"type": "string", "minLength": 1}, "to": CODE}},
        },
        "tags": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "rules": {"type": "array",
                          "description": "tags the rules own: set when `when` holds, cleared when it does not",
                          "items": {"type": "object", "additionalProperties": False, "required": ["tag", "when"],
                                    "properties": {"tag": CODE, "description": {"type": "string"},
                                                   "when": {"type": "string", "minLength": 1}}}},
                "manual": {"type": "array", "items": CODE,
                           "description": "tags people set (e.g. rural_market); re-tiering keeps them"},
            },
        },
        "approval": {
            "type": "object", "additionalProperties": False, "required": ["downgrade_from", "role", "sla"],
            "description": "downgrades of dealers in these tiers wait for a person's approval",
            "properties": {"downgrade_from": {"type": "array", "minItems": 1, "items": CODE}, "role": ROLE,
                           "sla": DURATION},
        },
        "silent": {
            "type": "object", "additionalProperties": False, "required": ["after", "task"],
            "description": "dealers with no order for `after` are flagged and their activation is asked of a person",
            "properties": {
                "after": SILENCE,
                "task": {**ROLE_SLA, "description": "who activates (account_manager: each dealer's own) and within"
                                                    " what time"},
                "actions": {"type": "object", "propertyNames": CODE,
                            "additionalProperties": {"type": "array", "minItems": 1,
                                                     "items": {"type": "string", "minLength": 1}},
                            "description": "suggested actions by tag; `default` for every silent dealer"},
            },
        },
    },
}

# Figures the platform computes for every dealer at a run (the 12 months before the run's month).
TIERING_FIGURES = {
    "purchases": {"type": "money", "description": "delivered amount less returns in the 12 months before the run"},
    "prior_purchases": {"type": "money", "description": "the same in the 12 months before those"},
    "growth": {"type": "decimal", "description": "(purchases - prior_purchases) / prior_purchases; 0 without prior"
                                                 " purchases"},
    "purchases_rank_in_region": {"type": "decimal", "description": "percentile of purchases in the dealer's region:"
                                                                   " 0 the lowest, 100 the highest"},
    "category_share": {"type": "decimal", "description": "share of purchases in the dealer's strongest category, 0 to 1"},
    "top_category": {"type": "string", "description": "the dealer's strongest category, e.g. window; \"\" without"
                                                      " purchases"},
    "terminal_stores": {"type": "int", "description": "active terminal stores: the dealer's level-2 dealers with an"
                                                      " order in the 90 days before the run"},
    "ack_on_time_rate": {"type": "decimal", "description": "policies acknowledged on time / policies due (0 when"
                                                           " policies_due is 0)"},
    "policies_due": {"type": "int", "description": "policy acknowledgments due in the 12 months"},
    "task_completion_rate": {"type": "decimal", "description": "policy tasks accepted / tasks due (0 when tasks_due is 0)"},
    "tasks_due": {"type": "int", "description": "policy tasks due in the 12 months"},
    **{f"order_growth_m{k}": {"type": "decimal",
                              "description": f"orders placed in the {('last', 'second-last', 'third-last')[k - 1]} month"
                                             " before the run over the dealer's average month in the 12 before the"
                                             " last three, less 1; 0 without orders then"} for k in (1, 2, 3)},
    "score": {"type": "decimal", "description": "the weighted scorecard, 0 to 100"},
}

TIERING = Kind(
    description="Dealer tiering: scorecard, thresholds, overrides, tags, benefits, silent dealers.",
    outcome={"type": "object", "properties": {"tier": {"type": "string"}, "tag": {"type": "string"}}},
    section="tiering",
    section_schema=TIERING_SECTION,
    facts={**DEALER_FACTS, **TIERING_FIGURES},
    derived={"growth": ("purchases", "prior_purchases")},
    # A figure a test leaves out has no value (the dimension scores it `missing`); no score: computed.
    defaults={name: None for name in TIERING_FIGURES if name != "growth"},
)

KINDS: dict[str, Kind] = {"credit_approval": CREDIT_APPROVAL, "policy": POLICY, "rebate": REBATE, "diversion": DIVERSION,
                          "tiering": TIERING}
