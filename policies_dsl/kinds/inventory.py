"""Channel inventory files (`kind: inventory`): the thresholds behind the advice a dealer × sku gets
from its health figures — cut replenishment over one turnover, a clearance promotion over a higher
one, a reorder under a days-of-cover floor (up to a target cover, rounded to the pack size), a
dealer's own safety stock within the file's limits, promotion resources for rising orders (a small
catalogue in the file, matched by the product's sku or category) — and who is told at which severity, with the SLA of the account managers' tasks.

The validator derives one rule per piece of advice at its threshold, so the engine decides them like
any other rules; `advise` asks the engine once per dealer × sku that needs it and does the exact
arithmetic of the reorder quantity. A test expects the advice, the severity and the reorder."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache

from ..durations import parse_duration
from ..engine import CompiledRuleset
from ..errors import RuleError
from ..expectations import checked_expectation
from ..loader import Document
from ..model import Rule
from ..compiler import checked_condition
from .fragments import DEALER_FACTS, DURATION, NUMBER, ROLE, exact
from .plugin import KindPlugin

SEVERITIES = ["low", "medium", "high"]  # in rising order
SEVERITY = {"enum": SEVERITIES}
AUDIENCES = ["dealer", "account_manager", "hq"]
ACTIONS = ["clearance", "cut_replenishment", "reorder", "push_promotion"]  # in the order advice is listed
RULE_OF = {"clearance": "clearance", "cut_replenishment": "cut-replenishment", "reorder": "reorder",
           "safety_stock": "safety-stock", "push_promotion": "rising-orders"}
ACTION_OF_RULE = {"clearance": "clearance", "cut-replenishment": "cut_replenishment", "reorder": "reorder",
                  "safety-stock": "reorder", "rising-orders": "push_promotion"}
RANK = {s: i for i, s in enumerate(SEVERITIES)}
DAYS = {**NUMBER, "description": "a number of days, e.g. 60"}
COUNT = {"type": "integer", "minimum": 0}
DAY = 86400
NO_SALES_DAYS = Decimal("36500")  # turnover and cover when nothing sold: a hundred years


def _advice(description: str, required: list, **properties) -> dict:
    return {"description": description, "type": "object", "additionalProperties": False,
            "required": [*required, "severity"], "properties": {**properties, "severity": SEVERITY}}


TEXT = {"type": "string", "minLength": 1, "maxLength": 500}
RESOURCES = {
    "description": "the promotion resources (促销资源) pushed with rising-orders advice: each matched by the"
                   " product's sku or category, with a link (https://… or a console path /…) or a description",
    "type": "array",
    "items": {
        "type": "object", "additionalProperties": False, "required": ["name", "for"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "link": {"type": "string", "maxLength": 500, "pattern": "^(https?://|/)"},
            "description": TEXT,
            "for": {"description": "the products it serves: skus, categories or both", "type": "object",
                    "additionalProperties": False, "minProperties": 1,
                    "properties": {"skus": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                                   "categories": {"type": "array", "minItems": 1,
                                                  "items": {"type": "string", "minLength": 1}}}},
        },
    },
}


@dataclass(frozen=True)
class PromotionResource:
    name: str
    link: str | None
    description: str | None
    skus: tuple[str, ...]
    categories: tuple[str, ...]

    def serves(self, sku: str, category: str | None) -> bool:
        return sku in self.skus or (category is not None and category in self.categories)

    def shown(self) -> dict:
        return {"name": self.name, "link": self.link, "description": self.description}


INVENTORY_SECTION = {
    "description": "Channel inventory (渠道库存): when a dealer × sku's health figures call for advice, how"
                   " severe it is, who is told, and the account managers' tasks for red items.",
    "type": "object",
    "additionalProperties": False,
    "required": ["average_over", "overstock", "reorder", "notify", "tasks"],
    "properties": {
        "average_over": {**DURATION, "description": "the span whose sell-through gives the average daily sales"},
        "report_fresh_for": {**DURATION, "description": "a stock report older than this is called stale in"
                                                        " the figures and the advice"},
        "overstock": {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {
                "cut_replenishment": _advice("turnover days (stock ÷ average daily sell-through) over"
                                             " `turnover_over`: advise cutting replenishment",
                                             ["turnover_over"], turnover_over=DAYS),
                "clearance": _advice("turnover days over `turnover_over`: advise a clearance promotion",
                                     ["turnover_over"], turnover_over=DAYS),
            },
        },
        "reorder": _advice("days of cover under `cover_under`: suggest a reorder up to `target_cover` days of"
                           " demand, rounded up to the pack size", ["cover_under", "target_cover"],
                           cover_under=DAYS, target_cover=DAYS),
        "safety_stock": {
            "description": "a dealer may set its own safety stock per sku, up to `max_days` days of its demand"
                           " (or `max_units` when it has none); stock under it is a reorder",
            "type": "object", "additionalProperties": False, "required": ["max_days", "max_units"],
            "properties": {"max_days": DAYS, "max_units": COUNT, "severity": SEVERITY}},
        "auto_replenish": {"type": "boolean", "description": "dealers may opt in to automatic replenishment"
                                                             " drafts of their reorder advice"},
        "rising_orders": _advice("orders of one product rising month on month for `months` months: push"
                                 " matching promotion resources to the dealer's account manager", ["months"],
                                 months={"type": "integer", "minimum": 1, "maximum": 11},
                                 resources=RESOURCES),
        "notify": {"description": "who is told of advice, by severity", "type": "object",
                   "additionalProperties": False, "required": SEVERITIES,
                   "properties": {s: {"type": "array", "uniqueItems": True, "items": {"enum": AUDIENCES}}
                                  for s in SEVERITIES}},
        "tasks": {"description": "one task per account manager listing its dealers' items of at least this"
                                 " severity (red items), within the SLA", "type": "object",
                  "additionalProperties": False, "required": ["from", "sla"],
                  "properties": {"from": SEVERITY, "sla": DURATION, "escalate_to": ROLE}},
    },
}

INVENTORY_FACTS = {
    **DEALER_FACTS,
    "stock.on_hand": {"type": "int", "description": "units at the dealer, reported or estimated"},
    "stock.turnover_days": {"type": "decimal", "description": "stock ÷ average daily sell-through (36500 when"
                                                              " nothing sold)"},
    "stock.cover_days": {"type": "decimal", "description": "(stock + in transit) ÷ daily demand (the forecast"
                                                           " when there is one)"},
    "stock.safety_stock": {"type": "int", "description": "the dealer's own safety stock for the sku (0: none)"},
    "stock.report_age_days": {"type": "int", "description": "days since the stock report the figure rests on"},
    "stock.in_transit": {"type": "int", "description": "units on their way to the dealer"},
    "stock.daily_demand": {"type": "decimal", "description": "units a day: the forecast when there is one, else"
                                                             " the average daily sell-through"},
    "product.pack_size": {"type": "int", "description": "units in a pack: reorders are whole packs"},
    "orders.rising_months": {"type": "int", "description": "months in a row the dealer's orders of the product rose"},
}
DEFAULTS = {"dealer.code": "", "dealer.region": "", "dealer.level": 1, "dealer.tier": "normal", "dealer.tags": [],
            "dealer.channel": "retail", "dealer.credit_points": 100, "stock.on_hand": 0,
            "stock.turnover_days": "0", "stock.cover_days": "36500", "stock.safety_stock": 0,
            "stock.report_age_days": 0, "stock.in_transit": 0, "stock.daily_demand": "0",
            "product.pack_size": 1, "orders.rising_months": 0}


@dataclass(frozen=True)
class InventorySpec:
    id: str
    average_over_days: int
    report_fresh_days: int
    cut_over: Decimal | None
    cut_severity: str | None
    clearance_over: Decimal | None
    clearance_severity: str | None
    cover_under: Decimal
    target_cover: Decimal
    reorder_severity: str
    safety_max_days: Decimal
    safety_max_units: int
    safety_severity: str
    auto_replenish: bool
    rising_months: int | None
    rising_severity: str | None
    notify: dict  # severity → audiences
    task_from: str
    task_sla_seconds: int
    task_escalate_to: str | None
    resources: tuple = ()  # PromotionResource, in the file's order

    def resources_for(self, sku: str, category: str | None) -> list[dict]:
        """The promotion resources that serve a product, as the advice and the messages show them."""
        return [r.shown() for r in self.resources if r.serves(sku, category)]

    @property
    def overstock_floor(self) -> Decimal | None:
        """The lowest turnover that draws advice: pairs under it (and with cover) need no engine call."""
        floors = [x for x in (self.cut_over, self.clearance_over) if x is not None]
        return min(floors) if floors else None

    def severity_of(self, action: str) -> str:
        return {"clearance": self.clearance_severity, "cut_replenishment": self.cut_severity,
                "reorder": self.reorder_severity, "push_promotion": self.rising_severity}[action] or "low"

    def safety_limit(self, daily_demand: Decimal) -> int:
        """The most safety stock a dealer may set for a sku with this daily demand."""
        if daily_demand > 0:
            return int((daily_demand * self.safety_max_days).to_integral_value(ROUND_CEILING))
        return self.safety_max_units


@dataclass(frozen=True)
class Advice:
    action: str
    severity: str
    quantity: int | None  # the reorder, in units (a multiple of the pack size)
    rule: str
    reason: str


@dataclass(frozen=True)
class Advised:
    advice: tuple  # Advice, most severe first
    matched: tuple  # rule names
    facts: dict  # JSON-safe, as the engine saw them

    @property
    def severity(self) -> str | None:
        return max((a.severity for a in self.advice), key=RANK.__getitem__, default=None)


# --- parsing -----------------------------------------------------------------------------------

def parse_inventory(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[InventorySpec | None, tuple, dict]:
    data, p = doc.data["inventory"], ("inventory",)
    start_errors = len(errors)
    rules: list[Rule] = []

    def rule(name, when, then, path, priority, description):
        condition = checked_condition(when, facts)
        rules.append(Rule(name, when, then, priority, doc.line(path), condition, description))

    def days(path, text) -> int:
        value = int(parse_duration(text).total_seconds())
        if value % DAY or value <= 0:
            errors.append(doc.error(path, f"give whole days, like 90d, not {text!r}"))
        return value // DAY

    def number(path, value) -> Decimal | None:
        return exact(doc, path, value, errors)

    over = data["overstock"]
    cut = over.get("cut_replenishment")
    clear = over.get("clearance")
    cut_over = number(p + ("overstock", "cut_replenishment", "turnover_over"), cut["turnover_over"]) if cut else None
    clear_over = number(p + ("overstock", "clearance", "turnover_over"), clear["turnover_over"]) if clear else None
    if cut_over is not None and clear_over is not None and clear_over <= cut_over:
        errors.append(doc.error(p + ("overstock", "clearance", "turnover_over"),
                                f"clearance must start above cutting replenishment ({_plain(cut_over)} days)"))
    if clear_over is not None:
        rule("clearance", f"stock.turnover_days > {_plain(clear_over)} and stock.on_hand > 0",
             {"advice": "clearance"}, p + ("overstock", "clearance"), 20, "a clearance promotion")
    if cut_over is not None:
        upper = f" and stock.turnover_days <= {_plain(clear_over)}" if clear_over is not None else ""
        rule("cut-replenishment", f"stock.turnover_days > {_plain(cut_over)}{upper} and stock.on_hand > 0",
             {"advice": "cut_replenishment"}, p + ("overstock", "cut_replenishment"), 10, "cut replenishment")

    re_ = data["reorder"]
    cover_under = number(p + ("reorder", "cover_under"), re_["cover_under"])
    target = number(p + ("reorder", "target_cover"), re_["target_cover"])
    if cover_under is not None and target is not None and target <= cover_under:
        errors.append(doc.error(p + ("reorder", "target_cover"),
                                f"the target cover must be above the floor ({_plain(cover_under)} days)"))
    if cover_under is not None:
        rule("reorder", f"stock.cover_days < {_plain(cover_under)}", {"advice": "reorder"}, p + ("reorder",), 30,
             "a reorder up to the target cover")
    safety = data.get("safety_stock")
    if safety is not None:
        rule("safety-stock", "stock.safety_stock > 0 and stock.on_hand < stock.safety_stock", {"advice": "reorder"},
             p + ("safety_stock",), 30, "stock under the dealer's safety stock")
    rising = data.get("rising_orders")
    if rising is not None:
        rule("rising-orders", f"orders.rising_months >= {rising['months']}", {"advice": "push_promotion"},
             p + ("rising_orders",), 0, "promotion resources for rising orders")

    resources = _resources(doc, p + ("rising_orders", "resources"), (rising or {}).get("resources", []), errors)

    average = days(p + ("average_over",), data["average_over"])
    fresh = days(p + ("report_fresh_for",), data.get("report_fresh_for", "7d"))
    tasks = data["tasks"]
    if len(errors) > start_errors or cover_under is None or target is None:
        return None, tuple(rules), {"advice": None}
    safety_max_days = number(p + ("safety_stock", "max_days"), safety["max_days"]) if safety else Decimal(0)
    spec = InventorySpec(
        id=doc.data["ruleset"], average_over_days=average, report_fresh_days=fresh,
        cut_over=cut_over, cut_severity=cut["severity"] if cut else None,
        clearance_over=clear_over, clearance_severity=clear["severity"] if clear else None,
        cover_under=cover_under, target_cover=target, reorder_severity=re_["severity"],
        safety_max_days=safety_max_days or Decimal(0), safety_max_units=safety["max_units"] if safety else 0,
        safety_severity=(safety or {}).get("severity", re_["severity"]),
        auto_replenish=bool(data.get("auto_replenish", False)),
        rising_months=rising["months"] if rising else None, rising_severity=rising["severity"] if rising else None,
        notify={s: list(data["notify"][s]) for s in SEVERITIES}, task_from=tasks["from"],
        task_sla_seconds=int(parse_duration(tasks["sla"]).total_seconds()), task_escalate_to=tasks.get("escalate_to"),
        resources=resources)
    return spec, tuple(rules), {"advice": None}


def _resources(doc: Document, path: tuple, items: list, errors: list[RuleError]) -> tuple:
    """The catalogue as written; a name given twice, or a resource with neither a link nor a
    description (nothing to push), is refused at its line."""
    seen: dict[str, int] = {}
    out = []
    for i, item in enumerate(items):
        at = path + (i,)
        name = item["name"].strip()
        if name in seen:
            errors.append(doc.error(at + ("name",), f"{name!r} is already resource {seen[name] + 1}; give each"
                                                     " resource its own name"))
        seen.setdefault(name, i)
        if not item.get("link") and not item.get("description"):
            errors.append(doc.error(at, f"resource {name!r} needs a link or a description: the account manager"
                                        " has nothing to push otherwise"))
        served = item["for"]
        out.append(PromotionResource(name, item.get("link"), item.get("description"),
                                     tuple(served.get("skus", ())), tuple(served.get("categories", ()))))
    return tuple(out)


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


# --- advising -----------------------------------------------------------------------------------

def full_facts(given: dict) -> dict:
    """The facts given, with the defaults of those not given (the run gives them all)."""
    return given if given.keys() >= DEFAULTS.keys() else {**DEFAULTS, **given}


def reorder_quantity(spec: InventorySpec, *, on_hand: int, in_transit: int, daily_demand: Decimal,
                     safety_stock: int, pack_size: int) -> int:
    """Up to the target cover of demand (and at least the safety stock), less what is there and on
    its way, rounded up to whole packs: "reorder 30 sets"."""
    target = max((daily_demand * spec.target_cover).to_integral_value(ROUND_CEILING), Decimal(safety_stock))
    short = target - on_hand - in_transit
    if short <= 0:
        return 0
    packs = (short / pack_size).to_integral_value(ROUND_CEILING)
    return int(packs) * pack_size


def advise(ruleset: CompiledRuleset, spec: InventorySpec, facts: dict, memo: dict | None = None) -> Advised:
    """The advice for one dealer × sku: one engine decision (`memo`: see CompiledRuleset.decide), then
    the reorder arithmetic on this pair's own figures."""
    decision = ruleset.decide(full_facts(facts), memo)
    matched = tuple(m["name"] for m in decision.matched)
    shown = decision.facts
    by_action: dict[str, Advice] = {}
    for m in decision.matched:
        action = ACTION_OF_RULE[m["name"]]
        if action in by_action:
            continue
        severity = spec.safety_severity if m["name"] == "safety-stock" else spec.severity_of(action)
        used = ", ".join(f"{f}={shown.get(f)}" for f in _facts_of(m["when"]))
        reason = f"rule '{m['name']}' matched: {m['when']} with {used}"
        quantity = None
        if action == "reorder":
            daily_demand = Decimal(str(shown["stock.daily_demand"]))
            pack_size = int(shown["product.pack_size"])
            quantity = reorder_quantity(spec, on_hand=int(shown["stock.on_hand"]),
                                        in_transit=int(shown["stock.in_transit"]), daily_demand=daily_demand,
                                        safety_stock=int(shown["stock.safety_stock"]), pack_size=pack_size)
            reason += (f"; reorder {quantity} units up to {_plain(spec.target_cover)} days of"
                       f" {daily_demand:.3f} a day, in packs of {pack_size}")
        by_action[action] = Advice(action, severity, quantity, m["name"], reason)
    if "clearance" in by_action:
        by_action.pop("cut_replenishment", None)
    advice = tuple(sorted(by_action.values(), key=lambda a: (-RANK[a.severity], ACTIONS.index(a.action))))
    return Advised(advice, matched, shown)


@lru_cache(maxsize=256)  # a file has a few conditions; a run asks for them once per advised pair
def _facts_of(when: str) -> tuple[str, ...]:
    return tuple(w for w in when.replace("(", " ").replace(")", " ").split() if "." in w and w[0].isalpha())


# --- test expectations -------------------------------------------------------------------------

EXPECT = {"advice": f"a list of {', '.join(ACTIONS)}", "severity": f"one of {', '.join(SEVERITIES)} or null",
          "reorder": "an integer (units)"}
_GOOD = {"advice": lambda v: isinstance(v, list) and all(a in ACTIONS for a in v),
         "severity": lambda v: v is None or v in SEVERITIES,
         "reorder": lambda v: isinstance(v, int) and not isinstance(v, bool)}


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError]) -> dict | None:
    return checked_expectation(doc, path, expect, errors, {
        key: (lambda p, v, key=key: (sorted(v) if key == "advice" else v,
                                     None if _GOOD[key](v) else f"expected {EXPECT[key]}, got {v!r}"))
        for key in EXPECT})


def _run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    """A test expects the advice (sorted action names), its top severity and the reorder in units."""
    advised = advise(ruleset, ruleset.rule_file.spec, given)
    reorder = next((a.quantity for a in advised.advice if a.action == "reorder"), 0)
    reason = "; ".join(a.reason for a in advised.advice) or "no advice"
    return {"advice": sorted(a.action for a in advised.advice), "severity": advised.severity,
            "reorder": reorder}, reason


PLUGIN = KindPlugin(
    name="inventory",
    description="Channel inventory: overstock and reorder thresholds, safety stock, rising orders, who is told.",
    outcome={"type": "object", "properties": {"advice": {"type": ["string", "null"]}}},
    parse=parse_inventory,
    expectation=lambda doc, path, expect, errors, rules: expectation(doc, path, expect, errors),
    run=_run,
    section="inventory",
    section_schema=INVENTORY_SECTION,
    facts=INVENTORY_FACTS,
    defaults=DEFAULTS,
)
