"""Stock allocation files (`kind: allocation`): what an order gets when HQ's stock of its SKUs is short
of what it asks for, and where it stands in the queue for stock still to come. A rule-list kind: its
`rules` and `default` decide, for the dealer and the shortage, one of

- `backorder`: the units in stock are reserved now, the rest wait for stock (filled by `priority`,
  highest first, then by age, whenever stock arrives);
- `partial`: the order is cut to the units in stock and the rest is dropped;
- `review`: a person (the `task`'s role) decides; what is in stock is held meanwhile, the rest waits;
- `reject`: the order is refused for want of stock.

The file declares the facts it reads, from those the platform supplies (dealer facts and the
shortage, ALLOCATION_FACTS); a test may leave out those it does not need. A test expects outcome keys and, optionally, the winning `rule`."""
from __future__ import annotations

from ..compiler import checked_condition
from ..conditions import ConditionError
from ..engine import CompiledRuleset
from ..errors import RuleError
from ..expectations import expected_rule
from ..loader import Document
from ..model import Rule
from ..texts import text_schema
from .fragments import DEALER_FACTS, DURATION, ROLE
from .plugin import KindPlugin, decided

ACTIONS = ("backorder", "partial", "review", "reject")
MAX_PRIORITY = 1000

ALLOCATION_FACTS = {
    **DEALER_FACTS,
    "dealer.supply_priority": {"type": "int", "description": "the supply priority of the dealer's tier (the"
                                                             " tiering file's acts), 0 without one"},
    "order.amount": {"type": "money", "description": "the order's amount at catalogue prices"},
    "order.units": {"type": "int", "description": "units the order asks for of SKUs HQ keeps stock of"},
    "order.short_units": {"type": "int", "description": "of those, units HQ's warehouses cannot supply now (1 or more)"},
    "order.fill_percent": {"type": "int", "description": "share of those units in stock now, 0 to 99 (rounded down)"},
}
DEFAULTS = {"dealer.code": "", "dealer.region": "", "dealer.level": 1, "dealer.tier": "normal", "dealer.tags": [],
            "dealer.channel": "", "dealer.credit_points": 100, "dealer.supply_priority": 0,
            "order.amount": "0.00", "order.units": 1,
            "order.short_units": 1, "order.fill_percent": 0}


def parse(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[None, tuple, dict]:
    """The file's rules, each `when` checked against the platform's facts, and its default."""
    for name, spec in doc.data["facts"].items():
        known = ALLOCATION_FACTS.get(name)
        if known is None:
            errors.append(doc.error(("facts", name), f"the platform supplies no fact '{name}' to allocation rules; "
                                                     f"it supplies {', '.join(ALLOCATION_FACTS)}"))
        elif spec.get("type") != known["type"]:
            errors.append(doc.error(("facts", name, "type"), f"'{name}' is of type {known['type']}, "
                                                             f"not {spec.get('type')}"))
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc.data["rules"]):
        line = doc.line(("rules", i))
        if raw["name"] in seen:
            errors.append(doc.error(("rules", i, "name"), f"duplicate rule name '{raw['name']}'"
                                    f" (also on line {seen[raw['name']]})"))
        seen.setdefault(raw["name"], doc.line(("rules", i, "name")))
        _check_outcome(doc, ("rules", i, "then"), raw["then"], errors)
        try:
            condition = checked_condition(raw["when"], facts)
        except ConditionError as e:
            errors.append(doc.error(("rules", i, "when"), str(e)))
            continue
        rules.append(Rule(raw["name"], raw["when"], raw["then"], raw.get("priority", 0), line, condition,
                          raw.get("description", "")))
    _check_outcome(doc, ("default",), doc.data["default"], errors)
    return None, tuple(rules), doc.data["default"]


def _check_outcome(doc: Document, path: tuple, outcome: dict, errors: list[RuleError]) -> None:
    """What the schema cannot say: a review names who reviews, and only a review does."""
    if outcome.get("allocate") == "review" and "task" not in outcome:
        errors.append(doc.error(path, "a `review` allocation needs a `task` naming who reviews "
                                      "(e.g. task: {role: hq, sla: 24h})"))
    elif outcome.get("allocate") != "review" and "task" in outcome:
        errors.append(doc.error((*path, "task"), f"only a `review` allocation opens a task, "
                                                 f"not `{outcome.get('allocate')}`"))


def with_defaults(ruleset: CompiledRuleset, given: dict) -> dict:
    """The facts a test or a caller left out, at their DEFAULTS; only those the file declares."""
    declared = ruleset.rule_file.facts
    return {**{k: v for k, v in DEFAULTS.items() if k in declared}, **{k: v for k, v in given.items() if k in declared}}


def run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    return decided(ruleset, with_defaults(ruleset, given))


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError], rules: tuple) -> dict | None:
    return expected_rule(doc, path, expect, errors, list(dict.fromkeys(r["name"] for r in doc.data["rules"])))


PLUGIN = KindPlugin(
    name="allocation",
    description="What an order gets when stock is short, and its place in the queue for stock to come.",
    outcome={
        "type": "object",
        "additionalProperties": False,
        "required": ["allocate", "priority"],
        "properties": {
            "allocate": {"enum": list(ACTIONS)},
            "priority": {"description": "supply priority of the units waiting for stock: higher goes first",
                         "type": "integer", "minimum": 0, "maximum": MAX_PRIORITY},
            "reason": text_schema(),
            "task": {
                "description": "The human review a `review` allocation opens.",
                "type": "object",
                "additionalProperties": False,
                "required": ["role", "sla"],
                "properties": {"role": ROLE, "sla": DURATION, "escalate_to": ROLE},
            },
        },
    },
    parse=parse,
    expectation=expectation,
    run=run,
    facts=lambda data: data["facts"],  # declared by the file, from ALLOCATION_FACTS
    defaults=DEFAULTS,
)
