"""Diversion files (`kind: diversion`): the schema of the `diversion:` section; the section checked
beyond its schema and turned into a DiversionSpec (the thresholds the database applies to every scan
and shipment, who investigates, what a confirmed case costs), plus the rules derived from it: one
per trigger at its threshold, and the file's `escalate` rules. `assess` asks the engine once per
trigger found in a case (never per scan or per code) whether the alert holds and how severe it is;
a test expects that: the alert, its severity and penalty."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..compiler import checked_condition
from ..conditions import ConditionError, facts_in
from ..durations import parse_duration
from ..engine import CompiledRuleset
from ..errors import RuleError
from ..expectations import checked_expectation
from ..loader import Document
from ..model import Rule
from .fragments import DEALER_FACTS, DURATION, NUMBER, ROLE, ROLE_SLA, SHARE
from .plugin import KindPlugin

TRIGGERS = ["out_of_region", "price", "regional_excess", "stock_up", "unknown_code", "signed_outside_region"]
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
                "signed_outside_region": _trigger(
                    "a parcel of the dealer's order signed for outside its province or city (the carrier's"
                    " signing place)", []),
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
# Figures a test may leave out, and the value they take.
DEFAULTS = {"dealer.confirmed_cases": 0, "alert.scans": 0, "alert.price_gap": "0", "alert.ratio": "0", "alert.units": 0}
RANK = {s: i for i, s in enumerate(SEVERITIES)}
RULE_OF = {t: t.replace("_", "-") for t in TRIGGERS}  # rule names use hyphens, like every rule name
DAY = 86400


@dataclass(frozen=True)
class Trigger:
    name: str
    severity: str
    under_guide_by: Decimal | None = None  # price: 0.20 for 20%
    over: Decimal | None = None  # regional_excess, stock_up: the factor
    min_units: int = 0
    window_seconds: int | None = None
    trailing_seconds: int | None = None  # stock_up


@dataclass(frozen=True)
class Escalation:
    name: str
    when: str
    severity: str


@dataclass(frozen=True)
class DiversionSpec:
    id: str
    triggers: dict  # name → Trigger, only those the file declares
    escalations: tuple
    investigation_role: str
    investigation_sla_seconds: int
    escalate_to: str | None
    penalties: dict  # severity → credit points a confirmed case costs
    earn_back_points: int  # per clean quarter; 0 when the file declares none
    earn_back_up_to: int

    def trigger(self, name: str) -> Trigger | None:
        return self.triggers.get(name)


@dataclass(frozen=True)
class Assessment:
    alert: bool
    severity: str | None
    penalty: int
    matched: tuple  # rule names
    reason: str
    facts: dict  # JSON-safe, as the engine saw them


# --- parsing -----------------------------------------------------------------------------------

def parse_diversion(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[DiversionSpec | None, tuple, dict]:
    """The DiversionSpec, the derived rules and their default; problems go to `errors`."""
    data, p = doc.data["diversion"], ("diversion",)
    start_errors = len(errors)
    rules: list[Rule] = []

    def rule(name, when, then, path, priority=0, description=""):
        try:
            condition = checked_condition(when, facts)
        except ConditionError as e:
            errors.append(doc.error(path, str(e)))
            return
        rules.append(Rule(name, when, then, priority, doc.line(path), condition, description))

    def seconds(path, text) -> int | None:
        if text is None:
            return None
        value = int(parse_duration(text).total_seconds())
        if value % DAY:  # shipments are compared by whole days
            errors.append(doc.error(path, f"give whole days, like 30d, not {text!r}"))
        return value

    triggers = {}
    for name, raw in data["triggers"].items():
        path = p + ("triggers", name)
        t = Trigger(name, raw["severity"], min_units=raw.get("min_units", 0))
        when = f'alert.trigger == "{name}"'
        if name == "price":
            share = _share(raw["under_guide_by"])
            if not 0 < share < 1:
                errors.append(doc.error(path + ("under_guide_by",), "give a share above 0% and below 100%"))
            t = Trigger(name, t.severity, under_guide_by=share)
            when += f" and alert.price_gap > {_plain(share)}"
        elif name in ("regional_excess", "stock_up"):
            key = "over_region_average" if name == "regional_excess" else "over_own_average"
            over = _exact(doc, path + (key,), raw[key], errors)
            if over is not None and over <= 0:
                errors.append(doc.error(path + (key,), "give a factor above 0, e.g. 2 for twice the average"))
            window = seconds(path + ("window",), raw["window"])
            trailing = seconds(path + ("trailing",), raw.get("trailing"))
            if trailing is not None and window is not None and trailing < window:
                errors.append(doc.error(path + ("trailing",), f"the trailing span must be at least the window"
                                                              f" ({raw['window']})"))
            t = Trigger(name, t.severity, over=over, min_units=t.min_units, window_seconds=window,
                        trailing_seconds=trailing)
            if over is not None:
                when += f" and alert.ratio > {_plain(over)}" + (
                    f" and alert.units >= {t.min_units}" if t.min_units else "")
        triggers[name] = t
        rule(RULE_OF[name], when, {"alert": True, "severity": t.severity}, path, 10, f"the {name} trigger")

    escalations, seen = [], {r: doc.line(p + ("triggers", t)) for t, r in RULE_OF.items() if t in triggers}
    for i, raw in enumerate(data.get("escalate", [])):
        path = p + ("escalate", i)
        if raw["name"] in seen:
            errors.append(doc.error(path + ("name",), f"duplicate rule name '{raw['name']}' (also on line"
                                                      f" {seen[raw['name']]})"))
        seen.setdefault(raw["name"], doc.line(path + ("name",)))
        escalations.append(Escalation(raw["name"], raw["when"], raw["severity"]))
        rule(raw["name"], raw["when"], {"severity": raw["severity"]}, path + ("when",), 0, raw.get("description", ""))

    investigation, penalties = data["investigation"], data["penalties"]
    earn_back = penalties.get("earn_back", {"clean_quarter": 0, "up_to": 100})
    points = penalties["points"]
    if not points["low"] <= points["medium"] <= points["high"]:
        errors.append(doc.error(p + ("penalties", "points"), "a more severe case must cost at least as many points:"
                                                             f" low {points['low']}, medium {points['medium']},"
                                                             f" high {points['high']}"))
    if len(errors) > start_errors:
        return None, tuple(rules), {"alert": False}
    spec = DiversionSpec(
        id=doc.data["ruleset"], triggers=triggers, escalations=tuple(escalations),
        investigation_role=investigation["role"],
        investigation_sla_seconds=int(parse_duration(investigation["sla"]).total_seconds()),
        escalate_to=investigation.get("escalate_to"), penalties=dict(points),
        earn_back_points=earn_back["clean_quarter"], earn_back_up_to=earn_back["up_to"])
    return spec, tuple(rules), {"alert": False}


def _exact(doc: Document, path: tuple, value, errors: list[RuleError]) -> Decimal | None:
    """A number as written (a YAML float is read from its source text, never through binary)."""
    text = doc.raw.get(path, str(value)) if isinstance(value, float) else str(value)
    try:
        return Decimal(text)
    except ArithmeticError:
        errors.append(doc.error(path, f"{text!r} is not a number"))
        return None


def _share(text: str) -> Decimal:
    """'20%' → Decimal('0.2'); the schema has checked the form."""
    return Decimal(text[:-1]) / 100


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


# --- assessing a case's alert ----------------------------------------------------------------------

def full_facts(given: dict) -> dict:
    """Facts as a test gives them: the figures it leaves out take the kind's defaults."""
    return {**DEFAULTS, **given}


def assess(ruleset: CompiledRuleset, spec: DiversionSpec, facts: dict) -> Assessment:
    """Whether one trigger's alert holds, by the file's threshold, and how severe it is: the trigger's
    severity raised by any `escalate` rule that holds. One engine call."""
    decision = ruleset.decide(full_facts(facts))
    matched = tuple(m["name"] for m in decision.matched)
    trigger = decision.facts["alert.trigger"]
    rule = RULE_OF[trigger]
    if rule not in matched:
        declared = next((r for r in ruleset.rule_file.rules if r.name == rule), None)
        if declared is None:
            reason = f"the {trigger} trigger is not in {ruleset.name} v{ruleset.version}: no alert"
        else:
            used = ", ".join(f"{f}={decision.facts.get(f)}" for f in facts_in(declared.condition))
            reason = f"no alert: {declared.when} does not hold with {used}"
        return Assessment(False, None, 0, matched, reason, decision.facts)
    severity = spec.triggers[trigger].severity
    reasons = [f"rule '{rule}' matched: {trigger} alert, {severity}"]
    for e in spec.escalations:
        if e.name in matched and RANK[e.severity] > RANK[severity]:
            severity = e.severity
            reasons.append(f"raised to {severity} by '{e.name}' ({e.when})")
    penalty = spec.penalties[severity]
    reasons.append(f"a confirmed case costs {penalty} credit points")
    return Assessment(True, severity, penalty, matched, "; ".join(reasons), decision.facts)


def most_severe(assessments) -> Assessment | None:
    """The alert that decides a case with several triggers: the most severe that holds."""
    held = [a for a in assessments if a.alert]
    return max(held, key=lambda a: RANK[a.severity]) if held else None


# --- test expectations -------------------------------------------------------------------------

EXPECT = {"alert": "true or false", "severity": f"one of {', '.join(SEVERITIES)}", "penalty": "an integer"}
_GOOD = {"alert": lambda v: isinstance(v, bool), "severity": lambda v: v in SEVERITIES,
         "penalty": lambda v: isinstance(v, int) and not isinstance(v, bool)}


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError]) -> dict | None:
    """A diversion test's `expect` checked; None when wrong."""
    return checked_expectation(doc, path, expect, errors, {
        key: (lambda p, v, key=key: (v, None if _GOOD[key](v) else f"expected {EXPECT[key]}, got {v!r}"))
        for key in EXPECT})


def observed(assessment: Assessment) -> dict:
    return {"alert": assessment.alert, "severity": assessment.severity, "penalty": assessment.penalty}



def _run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    """A test expects the assessed alert: whether it holds, its severity and penalty."""
    assessment = assess(ruleset, ruleset.rule_file.spec, given)
    return observed(assessment), assessment.reason


PLUGIN = KindPlugin(
    name="diversion",
    description="Anti-diversion: alert triggers and thresholds, severity, investigation and credit-point penalties.",
    outcome={"type": "object", "properties": {"alert": {"type": "boolean"}, "severity": SEVERITY}},
    parse=parse_diversion,
    expectation=lambda doc, path, expect, errors, rules: expectation(doc, path, expect, errors),
    run=_run,
    section="diversion",
    section_schema=DIVERSION_SECTION,
    facts=DIVERSION_FACTS,
    defaults=DEFAULTS,
)
