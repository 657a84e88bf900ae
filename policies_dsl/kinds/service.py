"""Service files (`kind: service`): dealer requests and their SLAs. The `service:` section holds the
request categories (who answers, who is told at the breach, whether the answer is an approval), the
first-response and resolution targets per category and tier in working time, the working hours
(the days come from China's calendar, see working_time.py), the reminder before a breach, the
statuses that pause the clock, the satisfaction scale, how long a closed request may be reopened,
and the account managers' contact cadence per tier.

The rules derived from it decide which targets apply: one per category and tier the file names,
and one per tier for every other category (`default`). A test gives the category and the tier, and
when it gives `request.filed_at` (Beijing time) it also expects the due times on the calendar."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..compiler import checked_condition
from ..conditions import ConditionError
from ..engine import CompiledRuleset
from ..errors import RuleError
from ..expectations import checked_expectation
from ..loader import Document
from ..model import Rule
from ..texts import text_in, text_schema
from ..working_time import CHINA, WorkingCalendar, parse_clock
from .fragments import CODE, DEALER_FACTS, DURATION, MONEY, ROLE, exact
from .plugin import KindPlugin

STATUSES = ("open", "in_progress", "waiting_dealer", "closed")
PAUSABLE = ("in_progress", "waiting_dealer")
WORK = {"type": "string", "pattern": r"^[1-9][0-9]*(m|h|d)$",
        "description": "working time: minutes (30m), hours (24h) or working days (5d, each the working hours)"}
CLOCK = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "a time of day, 09:00"}
TARGET = {"type": "object", "additionalProperties": False, "required": ["response", "resolution"],
          "properties": {"response": WORK, "resolution": WORK}}
DEFAULT = "default"
WHEN = "%Y-%m-%d %H:%M"

SERVICE_SECTION = {
    "description": "Dealer requests (诉求) and their SLAs on China's working calendar, satisfaction, reopening"
                   " and the account managers' contact cadence.",
    "type": "object",
    "additionalProperties": False,
    "required": ["working_hours", "categories", "targets"],
    "properties": {
        "working_hours": {"type": "object", "additionalProperties": False, "required": ["from", "to"],
                          "properties": {"from": CLOCK, "to": CLOCK},
                          "description": "the working day, Beijing time; holidays and make-up working days"
                                         " come from China's calendar"},
        "categories": {
            "type": "array", "minItems": 1,
            "items": {"type": "object", "additionalProperties": False, "required": ["name", "title"],
                      "properties": {
                          "name": CODE, "title": text_schema(maxLength=100),
                          "route": {**ROLE, "description": "the role that answers; account_manager: the dealer's"
                                                           " own (default)"},
                          "escalate_to": {**ROLE, "description": "the role told at the breach"},
                          "approval": {"type": "boolean", "description": "closed as approved or rejected (e.g."
                                                                         " a promotion application)"}}},
        },
        "targets": {
            "type": "object", "propertyNames": CODE, "required": [DEFAULT],
            "additionalProperties": {"type": "object", "propertyNames": CODE, "minProperties": 1,
                                     "additionalProperties": TARGET},
            "description": "category (or default) → tier → first response and resolution in working time",
        },
        "remind_before": {**WORK, "description": "remind the one who answers this long before a breach"},
        "escalate_to": {**ROLE, "description": "the role told at a breach when the category names none"},
        "pausing": {"type": "array", "items": {"enum": list(PAUSABLE)},
                    "description": "statuses that stop the clock (waiting for the dealer)"},
        "rating": {"type": "object", "additionalProperties": False, "required": ["min", "max"],
                   "properties": {"min": {"type": "integer", "minimum": 0, "maximum": 10},
                                  "max": {"type": "integer", "minimum": 1, "maximum": 10}}},
        "reopen_within": {**DURATION, "description": "a closed request may be reopened this long (calendar time)"},
        "cadence": {"type": "object", "propertyNames": CODE, "additionalProperties": DURATION,
                    "description": "tier → how often its account manager contacts the dealer (calendar time)"},
        "catalogue": {
            "type": "array",
            "description": "what points buy (积分兑换): HQ fulfils each redemption; a refused one gives the points back",
            "items": {"type": "object", "additionalProperties": False, "required": ["code", "title", "points"],
                      "properties": {"code": CODE, "title": text_schema(maxLength=100),
                                     "points": {"type": "integer", "minimum": 1, "maximum": 10000000},
                                     "fulfilled_by": {**ROLE, "description": "the role that fulfils it (default hq;"
                                                                            " finance for cash)"},
                                     "cash": {**CODE, "description": "a cash rebate: the points are converted to ¥ at"
                                                                     " this rebate program's per-point value and"
                                                                     " booked on the dealer's account when fulfilled"}}},
        },
        "care": {
            "type": "array",
            "description": "offers on the dealer contact's birthday and the cooperation anniversary: every offer"
                           " whose conditions hold is given, once a year",
            "items": {"type": "object", "additionalProperties": False, "required": ["occasion"],
                      "properties": {
                          "occasion": {"enum": ["birthday", "anniversary"]},
                          "tiers": {"type": "array", "items": CODE, "minItems": 1,
                                    "description": "only dealers of these tiers (default: every tier)"},
                          "min_years": {"type": "integer", "minimum": 1,
                                        "description": "an anniversary of at least this many years"},
                          "points": {"type": "integer", "minimum": 1, "maximum": 100000,
                                     "description": "points credited to the dealer's points ledger"},
                          "credit": {**MONEY, "description": "a coupon-like credit (¥, e.g. \"88.00\") booked"
                                                             " once on the dealer's account with its reason"},
                          "rebate_extra": {**CODE, "description": "anniversaries only: the rebate program whose"
                                                                  " anniversary extra the greeting grants and records"}}},
        },
    },
}

SERVICE_FACTS = {
    **DEALER_FACTS,
    "request.category": {"type": "string", "description": "the request's category, e.g. after_sales"},
    "request.filed_at": {"type": "string", "description": "tests only: when it was filed, Beijing time"
                                                         " (2026-09-30 17:00), to check the due times"},
}
DEFAULTS = {"request.filed_at": "", "dealer.tier": "normal"}


@dataclass(frozen=True)
class Category:
    name: str
    title: str
    title_zh: str
    route: str
    escalate_to: str | None
    approval: bool

    def title_in(self, lang: str) -> str:
        return self.title_zh if lang.lower().startswith("zh") else self.title

    @property
    def outcomes(self) -> list[str]:
        return ["approved", "rejected"] if self.approval else ["resolved"]


@dataclass(frozen=True)
class Target:
    response: int  # working seconds
    resolution: int


@dataclass(frozen=True)
class CatalogueItem:
    code: str
    title: str
    title_zh: str
    points: int
    fulfilled_by: str
    cash: str | None = None  # the rebate program whose per-point value converts the points

    def title_in(self, lang: str) -> str:
        return self.title_zh if lang.lower().startswith("zh") else self.title


@dataclass(frozen=True)
class CareOffer:
    on: str
    tiers: tuple
    min_years: int
    points: int
    credit: Decimal | None = None  # ¥ credited to the dealer's account
    rebate_extra: str | None = None  # a rebate program whose anniversary extra is granted

    def holds(self, on: str, tier: str, years: int) -> bool:
        return self.on == on and (not self.tiers or tier in self.tiers) and (on != "anniversary" or years >= self.min_years)


@dataclass(frozen=True)
class ServiceSpec:
    id: str
    calendar: WorkingCalendar
    categories: dict  # name → Category, in the file's order
    targets: dict  # (category or default, tier) → Target
    tiers: tuple  # the tiers of the default targets, in the file's order
    remind_before: int  # working seconds; 0: no reminder
    escalate_to: str | None
    pausing: tuple
    rating_min: int
    rating_max: int
    reopen_within: int  # calendar seconds
    cadence: dict  # tier → calendar seconds
    offers: tuple = ()  # CareOffer
    catalogue: dict = None  # code → CatalogueItem, in the file's order

    def item(self, code: str) -> "CatalogueItem | None":
        return (self.catalogue or {}).get(code)

    def care_points(self, on: str, tier: str, years: int) -> int:
        """The points of the offers that hold for a dealer's birthday or anniversary (0: a greeting only)."""
        return sum(o.points for o in self.offers if o.holds(on, tier, years))

    def care_credit(self, on: str, tier: str, years: int) -> Decimal:
        """The ¥ of the coupon-like credits that hold (0: none)."""
        return sum((o.credit for o in self.offers if o.credit and o.holds(on, tier, years)), Decimal("0.00"))

    def care_rebate_extras(self, on: str, tier: str, years: int) -> tuple:
        """The rebate programs whose anniversary extra the offers that hold grant, each once."""
        return tuple(dict.fromkeys(o.rebate_extra for o in self.offers if o.rebate_extra and o.holds(on, tier, years)))

    def category(self, name: str) -> Category | None:
        return self.categories.get(name)

    def target(self, category: str, tier: str) -> Target:
        """The targets of a category for a tier: the category's own, else the default's; a tier the
        file does not name takes the last (lowest) tier's."""
        return (self.targets.get((category, tier)) or self.targets.get((DEFAULT, tier))
                or self.targets[(DEFAULT, self.tiers[-1])])

    def escalation_of(self, category: str) -> str | None:
        c = self.categories.get(category)
        return (c.escalate_to if c else None) or self.escalate_to


@dataclass(frozen=True)
class Due:
    response: datetime
    resolution: datetime
    remind: datetime | None


def working_seconds(text: str, calendar: WorkingCalendar) -> int:
    n, unit = int(text[:-1]), text[-1]
    return n * {"m": 60, "h": 3600, "d": calendar.day_seconds}[unit]


def _calendar_seconds(text: str) -> int:
    n, unit = int(text[:-1]), text[-1]
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _rule_name(category: str, tier: str) -> str:
    return f"{category.replace('_', '-')}-{tier.replace('_', '-')}"


def parse_service(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[ServiceSpec | None, tuple, dict]:
    data, p = doc.data["service"], ("service",)
    start = len(errors)
    hours = data["working_hours"]
    opens, closes = parse_clock(hours["from"]), parse_clock(hours["to"])
    if closes <= opens:
        errors.append(doc.error(p + ("working_hours", "to"), f"the working day ends after it starts ({hours['from']})"))
    calendar = WorkingCalendar(opens, closes)

    categories, seen = {}, {}
    for i, raw in enumerate(data["categories"]):
        path = p + ("categories", i, "name")
        if raw["name"] == DEFAULT:
            errors.append(doc.error(path, f"'{DEFAULT}' names the targets of every other category, not a category"))
        if raw["name"] in seen:
            errors.append(doc.error(path, f"duplicate category '{raw['name']}' (also on line {seen[raw['name']]})"))
        seen.setdefault(raw["name"], doc.line(path))
        categories[raw["name"]] = Category(raw["name"], text_in(raw["title"], "en"), text_in(raw["title"], "zh"),
                                           raw.get("route", "account_manager"), raw.get("escalate_to"),
                                           bool(raw.get("approval", False)))

    rules: list[Rule] = []
    targets, tiers = {}, tuple(data["targets"][DEFAULT])
    remind = working_seconds(data["remind_before"], calendar) if "remind_before" in data else 0
    for category, by_tier in data["targets"].items():
        if category != DEFAULT and category not in categories:
            errors.append(doc.error(p + ("targets", category), f"unknown category '{category}' (categories:"
                                                               f" {', '.join(categories)})"))
            continue
        for tier, raw in by_tier.items():
            path = p + ("targets", category, tier)
            if category != DEFAULT and tier not in tiers:
                errors.append(doc.error(path, f"tier '{tier}' has no default targets (default: {', '.join(tiers)})"))
            t = Target(working_seconds(raw["response"], calendar), working_seconds(raw["resolution"], calendar))
            if t.response > t.resolution:
                errors.append(doc.error(path + ("response",), f"the first response ({raw['response']}) cannot come"
                                                              f" after the resolution ({raw['resolution']})"))
            targets[(category, tier)] = t
            when = f'dealer.tier == "{tier}"'
            if category != DEFAULT:
                when = f'request.category == "{category}" and {when}'
            try:
                condition = checked_condition(when, facts)
            except ConditionError as e:  # pragma: no cover - built from checked names
                errors.append(doc.error(path, str(e)))
                continue
            rules.append(Rule(_rule_name(category, tier), when, {"category": category, "tier": tier},
                              10 if category != DEFAULT else 0, doc.line(path), condition,
                              f"{category} targets for {tier} dealers"))
    offers = []
    for i, o in enumerate(data.get("care", ())):
        path = p + ("care", i)
        if not any(k in o for k in ("points", "credit", "rebate_extra")):
            errors.append(doc.error(path, "an offer gives points, a credit or a rebate extra: none is given"))
        if "rebate_extra" in o and o["occasion"] != "anniversary":
            errors.append(doc.error(path + ("rebate_extra",), f"a rebate's anniversary extra is an anniversary offer,"
                                                              f" not a {o['occasion']} one"))
        if "min_years" in o and o["occasion"] != "anniversary":
            errors.append(doc.error(path + ("min_years",), f"years count anniversaries, not a {o['occasion']}"))
        credit = None
        if "credit" in o:
            credit = exact(doc, path + ("credit",), o["credit"], errors)
            if credit is not None and (credit <= 0 or credit != credit.quantize(Decimal("0.01"))):
                errors.append(doc.error(path + ("credit",), f"a credit is a positive amount in ¥ with at most two"
                                                            f" decimals, like 88.00, not {o['credit']!r}"))
                credit = None
        offers.append(CareOffer(o["occasion"], tuple(o.get("tiers", ())), o.get("min_years", 1), o.get("points", 0),
                                credit.quantize(Decimal("0.01")) if credit is not None else None, o.get("rebate_extra")))
    codes: dict = {}
    for i, item in enumerate(data.get("catalogue", ())):
        if item["code"] in codes:
            errors.append(doc.error(p + ("catalogue", i, "code"), f"duplicate item '{item['code']}' (also on line"
                                                                  f" {codes[item['code']]})"))
        codes.setdefault(item["code"], doc.line(p + ("catalogue", i, "code")))
    rating = data.get("rating", {"min": 1, "max": 5})
    if rating["min"] >= rating["max"]:
        errors.append(doc.error(p + ("rating", "max"), f"the scale runs upwards: {rating['min']} to {rating['max']}"))
    default = {"category": DEFAULT, "tier": tiers[-1] if tiers else None}
    if len(errors) > start:
        return None, tuple(rules), default
    spec = ServiceSpec(
        id=doc.data["ruleset"], calendar=calendar, categories=categories, targets=targets, tiers=tiers,
        remind_before=remind, escalate_to=data.get("escalate_to"), pausing=tuple(data.get("pausing", ())),
        rating_min=rating["min"], rating_max=rating["max"],
        reopen_within=_calendar_seconds(data.get("reopen_within", "7d")),
        cadence={tier: _calendar_seconds(v) for tier, v in data.get("cadence", {}).items()},
        catalogue={i["code"]: CatalogueItem(i["code"], text_in(i["title"], "en"), text_in(i["title"], "zh"),
                                            i["points"], i.get("fulfilled_by", "finance" if "cash" in i else "hq"),
                                            i.get("cash"))
                   for i in data.get("catalogue", ())},
        offers=tuple(offers))
    return spec, tuple(rules), default


# --- what applies to a request -------------------------------------------------------------------

@dataclass(frozen=True)
class Terms:
    category: str
    tier: str
    target: Target
    route: str
    escalate_to: str | None
    approval: bool
    rule: str
    reason: str


def terms(ruleset: CompiledRuleset, spec: ServiceSpec, *, category: str, tier: str, dealer: dict | None = None) -> Terms:
    """The targets and routing of a request: one engine call over the category and the dealer's tier."""
    decision = ruleset.decide({**DEFAULTS, **(dealer or {}), "dealer.tier": tier, "request.category": category})
    target = spec.target(decision.outcome["category"] if decision.rule != "default" else category, tier)
    c = spec.category(category)
    return Terms(category, tier, target, c.route if c else "account_manager", spec.escalation_of(category),
                 bool(c and c.approval), decision.rule, decision.reason)


def due_times(spec: ServiceSpec, target: Target, filed: datetime) -> Due:
    cal = spec.calendar
    remind = cal.add(filed, target.resolution - spec.remind_before) if spec.remind_before else None
    return Due(cal.add(filed, target.response), cal.add(filed, target.resolution), remind)


def shown(moment: datetime | None) -> str | None:
    return moment.astimezone(CHINA).strftime(WHEN) if moment else None


# --- tests ---------------------------------------------------------------------------------------

EXPECT = ("response", "resolution", "route", "escalate_to", "approval", "response_due", "resolution_due",
          "remind_at", "rule")


def _expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError]) -> dict | None:
    def check(key):
        def one(p, v):
            if key in ("response", "resolution"):
                ok = isinstance(v, str) and v[:-1].isdigit() and v[-1:] in "mhd" and int(v[:-1]) > 0
                if not ok:
                    return v, f"expected working time like 4h or 5d, got {v!r}"
                return _work(working_seconds(v, _calendar_of(doc))), None
            if key == "approval":
                return v, None if isinstance(v, bool) else f"expected true or false, got {v!r}"
            if key.endswith(("_due", "_at")):
                try:
                    datetime.strptime(str(v), WHEN)
                    return str(v), None
                except ValueError:
                    return v, f"expected Beijing time like 2026-10-08 10:00, got {v!r}"
            return v, None if isinstance(v, str) or (v is None and key == "escalate_to") else f"expected text, got {v!r}"
        return one
    return checked_expectation(doc, path, expect, errors, {k: check(k) for k in EXPECT})


def _run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    spec: ServiceSpec = ruleset.rule_file.spec
    t = terms(ruleset, spec, category=given.get("request.category", ""), tier=given.get("dealer.tier", "normal"),
              dealer=given)
    out = {"response": _work(t.target.response), "resolution": _work(t.target.resolution),
           "route": t.route, "escalate_to": t.escalate_to, "approval": t.approval, "rule": t.rule}
    filed = given.get("request.filed_at")
    if filed:
        d = due_times(spec, t.target, datetime.strptime(filed, WHEN).replace(tzinfo=CHINA))
        out.update(response_due=shown(d.response), resolution_due=shown(d.resolution), remind_at=shown(d.remind))
    return out, t.reason


def _work(seconds: int) -> str:
    """Working seconds in working hours (or minutes): 5d of a 9-hour day compares as 45h."""
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def _calendar_of(doc: Document) -> WorkingCalendar:
    try:
        hours = doc.data["service"]["working_hours"]
        return WorkingCalendar(parse_clock(hours["from"]), parse_clock(hours["to"]))
    except (KeyError, TypeError, ValueError):
        return WorkingCalendar()


PLUGIN = KindPlugin(
    name="service",
    description="Dealer requests: categories, SLA targets per tier on the working calendar, reminders, escalation,"
                " pausing, satisfaction, reopening, contact cadence.",
    outcome={"type": "object", "properties": {"category": {"type": "string"}, "tier": {"type": ["string", "null"]}}},
    parse=parse_service,
    expectation=lambda doc, path, expect, errors, rules: _expectation(doc, path, expect, errors),
    run=_run,
    section="service",
    section_schema=SERVICE_SECTION,
    facts=SERVICE_FACTS,
    defaults=DEFAULTS,
    patterns={WORK["pattern"]: "working time like 30m, 24h or 5d (working days)",
              CLOCK["pattern"]: "a time of day like 09:00"},
)
