"""Rebate files (`kind: rebate`): the schema of the `rebate:` section; the section checked beyond its
schema and turned into a RebateSpec, plus the rules derived from it — eligibility over dealer facts,
one rule per bracket of the ladder, the growth and anniversary extras — which the engine evaluates
like any other rule file. `accrue` asks the engine once per dealer which of them hold, then computes
the money exactly; a test expects the accrued figures."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..compiler import CENT, checked_condition
from ..conditions import ConditionError, facts_in
from ..engine import CompiledRuleset
from ..errors import RuleError
from ..expectations import checked_expectation
from ..facts import coerce
from ..loader import Document
from ..model import FactSpec, Rule
from .fragments import (CODE, DEALER_FACTS, DURATION, MONEY, NUMBER, ROLE, ROLE_SLA, SHARE, exact, plain,
                        seconds, share)
from .plugin import KindPlugin

MONTHS = {"month": 1, "quarter": 3, "year": 12}
EXTRAS = ("growth", "anniversary")  # extras decided by a rule; points are paid whenever declared
ZERO = Decimal(0)
_PAID_BEFORE = FactSpec("paid_before", "money")

PERIODS = ["month", "quarter", "year"]
# The moment whose rules a settlement uses; settlement_date (the run's own time) is the default.
SETTLE_WITH = ("period_end", "period_start", "settlement_date")

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
                "settle_with": {"enum": list(SETTLE_WITH),
                                "description": "which version of this file a run evaluates with: the one in force"
                                               " at the end of the span it settles (period_end), at the period's"
                                               " start (period_start), or when the run is made (settlement_date,"
                                               " the default)"},
                "second_approval": {
                    "type": "object", "additionalProperties": False, "required": ["over", "role", "sla"],
                    "description": "a second approver for runs whose total is above `over`",
                    "properties": {"over": MONEY, "role": ROLE, "sla": DURATION},
                },
            },
        },
    },
}


def rebate_facts(data: dict) -> dict:
    """A rebate's facts: the measure is money or a count of units, by the file's `measure`."""
    unit = "money" if data["rebate"]["measure"] == "net_delivered_amount" else "int"
    return {
        **DEALER_FACTS,
        "dealer.years": {"type": "int", "description": "full years of cooperation"},
        "measure": {"type": unit, "description": "the period's measure so far"},
        "prior_measure": {"type": unit, "description": "the same span one year earlier"},
        "growth": {"type": "decimal", "description": "(measure - prior_measure) / prior_measure; 0 without a prior"},
        "anniversary": {"type": "int", "description": "the cooperation anniversary falling in the period, 0 for none"},
        "points": {"type": "int", "description": "unconverted points"},
    }



@dataclass(frozen=True)
class Bracket:
    index: int  # 1-based, as in the rule name bracket-<index>
    floor: Decimal  # `from`: the measure at which the bracket starts (included)
    rate: Decimal | None  # share of the measure, 0.02 for 2%
    amount: Decimal | None  # or a fixed sum for reaching the bracket


@dataclass(frozen=True)
class RebateSpec:
    id: str
    title: str
    measure: str  # amount | quantity
    category: str | None
    period: str  # month | quarter | year
    interim: str | None
    eligible: str
    basis: str  # retroactive | incremental
    brackets: tuple  # Bracket, rising
    cap: Decimal | None
    growth_over: Decimal | None
    growth_rate: Decimal | None
    anniversary_years: tuple
    anniversary_rate: Decimal | None
    point_value: Decimal | None
    confirm_seconds: int
    dispute_role: str
    dispute_sla_seconds: int
    approval_role: str
    approval_sla_seconds: int
    second_over: Decimal | None
    second_role: str | None
    second_sla_seconds: int | None
    settle_with: str = "settlement_date"  # see SETTLE_WITH


@dataclass(frozen=True)
class Figures:
    """One dealer's inputs for a period (or the part of it run so far)."""
    dealer: dict  # dealer facts by their full names: {"dealer.level": 1, "dealer.tags": [...]}
    measure: Decimal | int
    prior_measure: Decimal | int
    anniversary: int
    points: int
    paid_before: Decimal = ZERO  # what earlier (interim) runs of the period paid


@dataclass(frozen=True)
class Accrual:
    eligible: bool
    bracket: int  # 0: no bracket reached
    earned: Decimal  # ladder + extras, capped, in cents
    rebate: Decimal  # earned - paid_before; negative claws back over-paid interim runs
    capped: bool
    extras: tuple  # names of the extras that applied
    points: int  # points converted
    points_amount: Decimal
    explanation: dict  # JSON-safe


# --- parsing -----------------------------------------------------------------------------------

def parse_rebate(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[RebateSpec | None, tuple, dict]:
    """The RebateSpec, the derived rules and their default; problems go to `errors`."""
    data, p = doc.data["rebate"], ("rebate",)
    start_errors = len(errors)
    quantity = data["measure"] == "net_delivered_quantity"
    rules: list[Rule] = []

    def rule(name, when, then, path, known=facts, priority=0, description=""):
        try:
            condition = checked_condition(when, known)
        except ConditionError as e:
            errors.append(doc.error(path, str(e)))
            return
        rules.append(Rule(name, when, then, priority, doc.line(path), condition, description))

    # Eligibility reads dealer facts only: the period's figures decide the amount, not who takes part.
    # Priority 1: when it holds, the decision's winner (and outcome) is {eligible: true}.
    dealer = {n: f for n, f in facts.items() if n.startswith("dealer.")}
    rule("eligible", data["eligible"], {"eligible": True}, p + ("eligible",), dealer, 1, "who takes part")

    interim = data.get("interim")
    if interim and MONTHS[interim] >= MONTHS[data["period"]]:
        errors.append(doc.error(p + ("interim",), f"interim runs must be shorter than the period:"
                                                  f" a {interim} is not shorter than a {data['period']}"))

    brackets = _brackets(doc, quantity, errors)
    for b in (b for b in brackets if b.floor is not None):
        rule(f"bracket-{b.index}", f"measure >= {plain(b.floor)}", {"bracket": b.index},
             p + ("brackets", b.index - 1), description=f"bracket {b.index} of the ladder")

    extras = data.get("extras", {})
    for name in EXTRAS:
        if name in extras and quantity:  # a share of a count of units is not money
            errors.append(doc.error(p + ("extras", name), f"the {name} extra pays a share of the measure:"
                                                          " it needs measure net_delivered_amount"))
    growth = extras.get("growth")
    if growth:
        rule("growth", f"growth > {plain(share(growth['over']))}", {"growth": True}, p + ("extras", "growth"),
             description="growth over the same span a year earlier")
    anniversary = extras.get("anniversary")
    if anniversary:
        years = anniversary["years"]
        for i, year in enumerate(years):
            if year in years[:i]:
                errors.append(doc.error(p + ("extras", "anniversary", "years", i), f"year {year} is listed twice"))
        rule("anniversary", f"anniversary in [{', '.join(map(str, years))}]", {"anniversary": True},
             p + ("extras", "anniversary"), description="a cooperation anniversary in the period")

    def money(path, value):
        return None if value is None else _money(doc, p + path, value, errors)

    cap = money(("cap",), data.get("cap"))
    point_value = money(("extras", "points", "per_point"), extras.get("points", {}).get("per_point"))
    settlement = data["settlement"]
    second = settlement.get("second_approval", {})
    second_over = money(("settlement", "second_approval", "over"), second.get("over"))
    default = {"eligible": False}
    if len(errors) > start_errors:
        return None, tuple(rules), default
    spec = RebateSpec(
        id=doc.data["ruleset"], title=data["title"], measure="quantity" if quantity else "amount",
        category=data.get("category"), period=data["period"], interim=interim, eligible=data["eligible"],
        basis=data["basis"], brackets=tuple(brackets), cap=cap,
        growth_over=share(growth["over"]) if growth else None, growth_rate=share(growth["rate"]) if growth else None,
        anniversary_years=tuple(anniversary["years"]) if anniversary else (),
        anniversary_rate=share(anniversary["rate"]) if anniversary else None, point_value=point_value,
        confirm_seconds=seconds(settlement["confirm_within"]),
        dispute_role=settlement["disputes"]["role"], dispute_sla_seconds=seconds(settlement["disputes"]["sla"]),
        approval_role=settlement["approval"]["role"], approval_sla_seconds=seconds(settlement["approval"]["sla"]),
        second_over=second_over, second_role=second.get("role"),
        second_sla_seconds=seconds(second["sla"]) if second else None,
        settle_with=settlement.get("settle_with", "settlement_date"))
    return spec, tuple(rules), default


def _brackets(doc: Document, quantity: bool, errors: list[RuleError]) -> list[Bracket]:
    out: list[Bracket] = []
    previous = None  # (floor, line) of the last bracket with a valid floor
    for i, raw in enumerate(doc.data["rebate"]["brackets"]):
        path = ("rebate", "brackets", i)
        floor = exact(doc, path + ("from",), raw["from"], errors)
        if floor is not None and floor != floor.quantize(Decimal(1) if quantity else CENT):
            wanted = "a whole number of units" if quantity else "an amount with at most 2 decimals"
            errors.append(doc.error(path + ("from",), f"expected {wanted}, got {plain(floor)}"))
            floor = None
        elif floor is not None:
            if previous and floor <= previous[0]:
                errors.append(doc.error(path + ("from",), f"brackets must rise: {plain(floor)} is not above"
                                                          f" {plain(previous[0])} (line {previous[1]})"))
            previous = (floor, doc.line(path + ("from",)))
        if ("rate" in raw) == ("amount" in raw):
            errors.append(doc.error(path, "give either rate (a share of the measure) or amount (a fixed sum),"
                                          " not both or neither"))
        elif quantity and "rate" in raw:  # a share of a count of units is not money
            errors.append(doc.error(path + ("rate",), "a quantity measure pays fixed sums: give amount, not rate"))
        amount = _money(doc, path + ("amount",), raw["amount"], errors) if "amount" in raw else None
        rate = share(raw["rate"]) if "rate" in raw else None
        out.append(Bracket(i + 1, floor, rate, amount))  # floor None: wrong, reported; no spec is built
    return out


def _money(doc: Document, path: tuple, value, errors: list[RuleError]) -> Decimal | None:
    number = exact(doc, path, value, errors)
    if number is not None and number != number.quantize(CENT):
        errors.append(doc.error(path, f"expected an amount with at most 2 decimals, got {plain(number)}"))
        return None
    return None if number is None else number.quantize(CENT)


# --- test expectations -------------------------------------------------------------------------

EXPECT = {"eligible": "bool", "bracket": "int", "rebate": "money", "earned": "money", "capped": "bool",
          "extras": "extras", "points_amount": "money"}


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError]) -> dict | None:
    """A rebate test's `expect`, checked and made exact (money as Decimal); None when wrong."""
    return checked_expectation(doc, path, expect, errors,
                               {key: (lambda p, v, kind=kind: _expected(doc, p, kind, v)) for key, kind in EXPECT.items()})


def _expected(doc: Document, path: tuple, kind: str, value) -> tuple[object, str | None]:
    if kind == "money":  # may be negative (a clawback), so not the schema's MONEY
        number = None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                number = Decimal(doc.raw.get(path, str(value)) if isinstance(value, float) else str(value))
            except InvalidOperation:
                pass
        if number is None or not number.is_finite() or number != number.quantize(CENT):
            return None, f"expected an amount like 12000.00, got {value!r}"
        return number, None
    good = {"bool": lambda v: isinstance(v, bool),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "extras": lambda v: isinstance(v, list) and all(x in EXTRAS for x in v)}[kind](value)
    wanted = {"bool": "true or false", "int": "an integer", "extras": f"a list of {', '.join(EXTRAS)}"}[kind]
    return value, None if good else f"expected {wanted}, got {value!r}"


def observed(accrual: Accrual) -> dict:
    """The values a test's `expect` compares with."""
    return {"eligible": accrual.eligible, "bracket": accrual.bracket, "rebate": accrual.rebate,
            "earned": accrual.earned, "capped": accrual.capped, "extras": list(accrual.extras),
            "points_amount": accrual.points_amount}


def figures_of(facts: dict, paid_before: Decimal = ZERO) -> Figures:
    """Figures from flat facts (a test's `given`): figures not given are 0."""
    return Figures(dealer={k: v for k, v in facts.items() if k.startswith("dealer.")},
                   measure=facts.get("measure", 0), prior_measure=facts.get("prior_measure", 0),
                   anniversary=facts.get("anniversary", 0), points=facts.get("points", 0), paid_before=paid_before)


# --- accrual -----------------------------------------------------------------------------------

def accrue(ruleset: CompiledRuleset, spec: RebateSpec, figures: Figures) -> Accrual:
    """One dealer's rebate for a period: one engine call decides eligibility, the bracket reached and
    the extras; the money is computed here, exactly, and rounded to cents once."""
    specs = ruleset.rule_file.facts
    measure, prior = coerce(specs["measure"], figures.measure), coerce(specs["prior_measure"], figures.prior_measure)
    anniversary, points = coerce(specs["anniversary"], figures.anniversary), coerce(specs["points"], figures.points)
    paid_before = coerce(_PAID_BEFORE, figures.paid_before)
    # Growth against a prior span with no (or net negative) volume means nothing: no growth.
    growth = (Decimal(measure) - prior) / prior if prior > 0 else ZERO
    decision = ruleset.decide({**figures.dealer, "measure": measure, "prior_measure": prior, "growth": growth,
                               "anniversary": anniversary, "points": points})
    matched = [m["name"] for m in decision.matched]
    explanation = {"ruleset": ruleset.name, "version": ruleset.version, "matched": matched, "basis": spec.basis,
                   "figures": {"measure": _shown(measure), "prior_measure": _shown(prior),
                               "growth": plain(growth.quantize(Decimal("0.000001"), ROUND_HALF_UP)),
                               "anniversary": anniversary, "points": points, "paid_before": _cents(paid_before)}}
    if "eligible" not in matched:
        return _ineligible(ruleset, spec, decision, paid_before, explanation)

    reached = max((int(n.split("-")[1]) for n in matched if n.startswith("bracket-")), default=0)
    total, steps, reason = _ladder(spec, Decimal(measure), reached)
    extras, extra_steps = [], []
    for name, rate in (("growth", spec.growth_rate), ("anniversary", spec.anniversary_rate)):
        if name in matched:
            amount = rate * measure
            total += amount
            extras.append(name)
            extra_steps.append({"name": name, "rate": _percent(rate), "amount": _money_text(amount)})
            reason.append(f"{name} extra {_percent(rate)} = {_money_text(amount)}")
    capped = spec.cap is not None and total > spec.cap
    if capped:
        reason.append(f"capped at {_cents(spec.cap)}")
    earned = (spec.cap if capped else total).quantize(CENT, ROUND_HALF_UP)
    rebate = earned - paid_before
    if paid_before:
        reason.append(f"earned {_cents(earned)} less {_cents(paid_before)} paid before = {_cents(rebate)}")
    points = points if spec.point_value is not None else 0
    points_amount = (points * spec.point_value).quantize(CENT, ROUND_HALF_UP) if points else ZERO.quantize(CENT)
    if points:
        reason.append(f"{points} points at {_cents(spec.point_value)} = {_cents(points_amount)}")
    cap = {"limit": _cents(spec.cap), "applied": capped, "before": _money_text(total)} if spec.cap is not None else None
    explanation.update(
        eligible=True, bracket=_bracket_shown(spec.brackets[reached - 1]) if reached else None, ladder=steps,
        extras=extra_steps, cap=cap, earned=_cents(earned), rebate=_cents(rebate),
        points_amount=_cents(points_amount), reason="; ".join(reason))
    return Accrual(True, reached, earned, rebate, capped, tuple(extras), points, points_amount, explanation)


def _ladder(spec: RebateSpec, measure: Decimal, reached: int) -> tuple[Decimal, list, list]:
    """The ladder's amount (unrounded), its steps for the explanation, and the reason's parts."""
    if not reached:
        first = plain(spec.brackets[0].floor)
        return ZERO, [], [f"no bracket reached: {_units(spec, measure)} is below {first}"]
    if spec.basis == "retroactive":  # the whole measure at the bracket reached
        b = spec.brackets[reached - 1]
        amount = b.amount if b.amount is not None else b.rate * measure
        on = "" if b.amount is not None else f" on {_units(spec, measure)}"
        step = {"bracket": b.index, "base": _units(spec, measure), **_pays(b), "amount": _money_text(amount)}
        return amount, [step], [f"bracket {b.index} ({_bracket_terms(b)}){on} = {_money_text(amount)}"]
    # incremental: each slice of the measure at its own rate; fixed sums of every bracket reached
    total, steps, parts = ZERO, [], []
    for b in spec.brackets[:reached]:
        top = spec.brackets[b.index].floor if b.index < reached else measure
        if b.amount is not None:
            amount, base = b.amount, None
            parts.append(f"bracket {b.index} (from {plain(b.floor)}) fixed {_cents(amount)}")
        else:
            base = top - b.floor
            amount = b.rate * base
            parts.append(f"{_units(spec, b.floor)}–{_units(spec, top)} at {_percent(b.rate)} = {_money_text(amount)}")
        total += amount
        steps.append({"bracket": b.index, "from": _units(spec, b.floor), "to": _units(spec, top),
                      "base": None if base is None else _units(spec, base), **_pays(b), "amount": _money_text(amount)})
    return total, steps, [f"incremental to bracket {reached}: " + ", ".join(parts)]


def _ineligible(ruleset, spec, decision, paid_before: Decimal, explanation: dict) -> Accrual:
    """Not in the program: nothing earned, no points; what interim runs paid is taken back."""
    rule = next(r for r in ruleset.rule_file.rules if r.name == "eligible")
    used = ", ".join(f"{f}={decision.facts.get(f)}" for f in facts_in(rule.condition))
    reason = f"not eligible: {spec.eligible} does not hold with {used}"
    if paid_before:
        reason += f"; {_cents(paid_before)} paid before is taken back"
    zero = ZERO.quantize(CENT)
    rebate = zero - paid_before
    explanation.update(eligible=False, bracket=None, ladder=[], extras=[], cap=None, earned=_cents(zero),
                       rebate=_cents(rebate), points_amount=_cents(zero), reason=reason)
    return Accrual(False, 0, zero, rebate, False, (), 0, zero, explanation)


def _pays(b: Bracket) -> dict:
    return {"fixed": _cents(b.amount)} if b.amount is not None else {"rate": _percent(b.rate)}


def _bracket_shown(b: Bracket | None) -> dict | None:
    if b is None:
        return None
    return {"index": b.index, "from": plain(b.floor),
            **({"amount": _cents(b.amount)} if b.amount is not None else {"rate": _percent(b.rate)})}


def _bracket_terms(b: Bracket) -> str:
    return f"from {plain(b.floor)}, " + (f"fixed {_cents(b.amount)}" if b.amount is not None else _percent(b.rate))


def _percent(rate: Decimal) -> str:
    return f"{plain((rate * 100).normalize())}%"


def _cents(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _money_text(amount: Decimal) -> str:
    """An intermediate amount: in cents when it is whole cents, else every digit (rounding is once, at the end)."""
    return _cents(amount) if amount == amount.quantize(CENT) else plain(amount.normalize())


def _units(spec: RebateSpec, measure: Decimal) -> str:
    """A measure as people read it: money in cents, units whole."""
    return _cents(measure) if spec.measure == "amount" else plain(measure)


def _shown(measure) -> str | int:
    return measure if isinstance(measure, int) else _cents(measure)


def _run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    """A test expects the accrued figures, not a winning rule."""
    accrual = accrue(ruleset, ruleset.rule_file.spec, figures_of(given))
    return observed(accrual), accrual.explanation["reason"]


PLUGIN = KindPlugin(
    name="rebate",
    description="A rebate program: eligibility, bracket ladder, extras and settlement.",
    outcome={"type": "object", "properties": {"eligible": {"type": "boolean"}, "bracket": {"type": "integer"}}},
    parse=parse_rebate,
    expectation=lambda doc, path, expect, errors, rules: expectation(doc, path, expect, errors),
    run=_run,
    section="rebate",
    section_schema=REBATE_SECTION,
    facts=rebate_facts,
    derived={"growth": ("measure", "prior_measure")},
)
