"""Credit approval files (`kind: credit_approval`): a rule-list kind. The file declares its facts and
lists `rules` with a `default`; the schema here is that of their outcomes. A test expects outcome
keys and, optionally, the winning `rule`.

Beside its rules a credit file sets `limit_change_needs_approval_over`: a manual raise of a dealer's
credit limit above that amount waits for a second person (a credit manager or finance) before it
applies. Absent, it is DEFAULT_LIMIT_APPROVAL."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..compiler import checked_condition
from ..conditions import ConditionError
from ..errors import RuleError
from ..expectations import expected_rule
from ..loader import Document
from ..model import Rule
from .fragments import DURATION, MONEY, ROLE, exact
from .plugin import KindPlugin, decided
from ..texts import text_schema


DEFAULT_LIMIT_APPROVAL = Decimal("200000.00")


@dataclass(frozen=True)
class CreditSettings:
    limit_change_needs_approval_over: Decimal = DEFAULT_LIMIT_APPROVAL


def parse(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[CreditSettings, tuple, dict]:
    """The file's settings, its rules, each `when` checked against its facts, and its default."""
    settings = CreditSettings()
    if "limit_change_needs_approval_over" in doc.data:
        over = exact(doc, ("limit_change_needs_approval_over",), doc.data["limit_change_needs_approval_over"], errors)
        if over is not None:
            settings = CreditSettings(over)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc.data["rules"]):
        line = doc.line(("rules", i))
        if raw["name"] in seen:
            errors.append(doc.error(("rules", i, "name"), f"duplicate rule name '{raw['name']}'"
                                    f" (also on line {seen[raw['name']]})"))
        seen.setdefault(raw["name"], doc.line(("rules", i, "name")))
        try:
            condition = checked_condition(raw["when"], facts)
        except ConditionError as e:
            errors.append(doc.error(("rules", i, "when"), str(e)))
            continue
        rules.append(Rule(raw["name"], raw["when"], raw["then"], raw.get("priority", 0), line, condition,
                          raw.get("description", "")))
    return settings, tuple(rules), doc.data["default"]


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError], rules: tuple) -> dict | None:
    # Every rule the file names, its `when` wrong or not: that error is reported once, on the rule.
    return expected_rule(doc, path, expect, errors, list(dict.fromkeys(r["name"] for r in doc.data["rules"])))


PLUGIN = KindPlugin(
    name="credit_approval",
    description="Automatic credit decision for a dealer order.",
    outcome={
        "type": "object",
        "additionalProperties": False,
        "required": ["decision"],
        "properties": {
            "decision": {"enum": ["approve", "review", "reject"]},
            "reason": text_schema(),
            "task": {
                "description": "The human review a `review` decision opens.",
                "type": "object",
                "additionalProperties": False,
                "required": ["role", "sla"],
                "properties": {"role": ROLE, "sla": DURATION, "escalate_to": ROLE},
            },
        },
    },
    parse=parse,
    expectation=expectation,
    run=decided,
    facts=lambda data: data["facts"],  # declared by the file itself
    settings={"limit_change_needs_approval_over": {
        **MONEY, "description": "a manual raise of a credit limit above this amount needs a second person's "
                                "approval (a credit manager or finance other than the requester)"}},
    emergency_roles=("admin",),  # e.g. stopping approvals at once when a dealer's fraud comes to light
)
