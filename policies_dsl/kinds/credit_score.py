"""The credit scorecard (`kind: credit_score`): behavioural figures the platform computes from every
dealer's ledger (days sales outstanding, overdue ratio, amount-weighted days paid late, its trend,
limit utilisation, months of history) and channel signals (tier, credit points) scored like the
tiering scorecard into 0–100 points; ratings from the highest score down; overrides the score alone
would not make; a proposed limit (the dealer's average month of purchases times its rating's months,
rounded down); and the thresholds over which an increase waits for one person, then for a second.
Ratings and overrides are derived rules the engine evaluates; the score and the limit are exact
Decimal arithmetic. A test expects the rating, score, limit, change and approvals needed."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from ..compiler import checked_condition
from ..conditions import ConditionError
from ..engine import CompiledRuleset
from ..errors import RuleError
from ..expectations import checked_expectation
from ..facts import coerce
from ..loader import Document
from ..model import Rule
from ..texts import text_schema
from .fragments import DEALER_FACTS, DURATION, MONEY, NUMBER, ROLE, exact, plain, seconds
from .plugin import KindPlugin
from .tiering import (SCORE, SCORE_FACT, TIERING_SECTION, Tier, _dimension_shown, _dimensions, _overrides, _shown,
                      _tiers, score_dimensions)

SECTION = "credit_score"
shown = _shown  # a figure as people read it: money to the cent, a ratio to 6 places
ZERO = Decimal(0)
CENTS = Decimal("0.01")
RATING = {"type": "string", "pattern": r"^[A-Z]$"}
SCORED = {"type": "string", "pattern": r"^(dealer\.)?[a-z][a-z0-9_]*$"}

_DIMENSIONS = copy.deepcopy(TIERING_SECTION["properties"]["dimensions"])
_DIMENSIONS["items"]["properties"]["from"].update(pattern=SCORED["pattern"], items=SCORED)
_DIMENSIONS["description"] = ("the scorecard: each dimension scores a figure (or a numeric dealer fact such as"
                              " dealer.credit_points) 0-100; the weights add up to 100%")

CREDIT_SCORE_SECTION = {
    "description": "Credit scoring from payment behaviour: a weighted scorecard over the ledger's figures and the"
                   " dealer's channel signals, ratings, overrides, the proposed limit and who approves increases.",
    "type": "object",
    "additionalProperties": False,
    "required": ["dimensions", "ratings", "limit"],
    "properties": {
        "dimensions": _DIMENSIONS,
        "ratings": {
            "type": "array", "minItems": 2,
            "description": "from the highest down (A first): a dealer's score reaches the first `min_score` it is at"
                           " or above; the last rating has none",
            "items": {"type": "object", "additionalProperties": False, "required": ["name", "limit_months"],
                      "properties": {"name": RATING, "title": text_schema(maxLength=100), "min_score": SCORE,
                                     "limit_months": {**NUMBER, "description": "the proposed limit is this many"
                                                                               " average months of purchases"}}},
        },
        "overrides": {
            "type": "array",
            "description": "ratings the score alone would not give; the first that holds wins",
            "items": {"type": "object", "additionalProperties": False, "required": ["name", "when", "to"],
                      "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
                                     "description": {"type": "string"},
                                     "from": {"type": "array", "minItems": 1, "items": RATING,
                                              "description": "the ratings by score it applies to (default: all)"},
                                     "when": {"type": "string", "minLength": 1}, "to": RATING}},
        },
        "limit": {
            "type": "object", "additionalProperties": False, "required": ["round_to"],
            "description": "the proposed limit: monthly_purchases × the rating's limit_months, rounded down",
            "properties": {"round_to": {**MONEY, "description": "rounded down to a multiple of this amount"},
                           "max": {**MONEY, "description": "never above this amount"},
                           "keep_under_months": {"type": "integer", "minimum": 0, "maximum": 120,
                                                 "description": "a dealer with fewer months of history keeps its"
                                                                " limit"}},
        },
        "approval": {
            "type": "object", "additionalProperties": False, "required": ["increase_over", "role", "sla"],
            "description": "a decrease applies at once; an increase over `increase_over` waits for `role`, over"
                           " `second_over` also for a second person (never the first)",
            "properties": {"increase_over": MONEY, "second_over": MONEY, "role": ROLE, "sla": DURATION},
        },
    },
}

# Figures the platform computes for every dealer from its ledger (see dealerflow/credit/ledger_figures.py).
CREDIT_FIGURES = {
    "receivables": {"type": "money", "description": "the ledger's balance: what the dealer owes"},
    "overdue_days": {"type": "int", "description": "days the oldest unpaid invoice is past its due date (value"
                                                   " date + payment terms; payments pay the oldest invoices first)"},
    "overdue_amount": {"type": "money", "description": "unpaid amounts of invoices past their due date"},
    "overdue_ratio": {"type": "decimal", "description": "overdue_amount / unpaid invoices, 0 to 1"},
    "dso": {"type": "decimal", "description": "days sales outstanding: receivables / deliveries of the last 90 days"
                                              " × 90; no value without deliveries"},
    "days_late": {"type": "decimal", "description": "amount-weighted days paid late (PAYDEX-like) of the invoices"
                                                    " paid in the 12 months, with open ones past due"},
    "days_late_trend": {"type": "decimal", "description": "days_late of the last 3 months less that of the 3 before"
                                                          " (above 0: paying later)"},
    "utilisation": {"type": "decimal", "description": "receivables / credit limit; no value without a limit"},
    "months_of_history": {"type": "int", "description": "months since the dealer's first ledger entry"},
    "purchases": {"type": "money", "description": "deliveries less returns in the 12 months"},
    "monthly_purchases": {"type": "money", "description": "purchases / 12: the base of the proposed limit"},
    "score": {"type": "decimal", "description": "the weighted scorecard, 0 to 100"},
}
CREDIT_DEALER_FACTS = {
    **DEALER_FACTS,
    "dealer.rating": {"type": "string", "description": "the rating before this scoring"},
    "dealer.credit_limit": {"type": "money", "description": "the limit before this scoring"},
}


@dataclass(frozen=True)
class Override:
    name: str
    description: str
    when: str
    from_ratings: tuple
    to: str


@dataclass(frozen=True)
class CreditScoreSpec:
    id: str
    dimensions: tuple
    ratings: tuple  # Tier, highest first
    limit_months: dict  # rating → Decimal
    overrides: tuple
    round_to: Decimal
    max_limit: Decimal | None
    keep_under_months: int
    increase_over: Decimal | None  # None: every increase applies at once
    second_over: Decimal | None
    approval_role: str | None
    approval_sla_seconds: int | None

    def rating(self, name: str) -> Tier | None:
        return next((r for r in self.ratings if r.name == name), None)

    def approvals(self, change: Decimal) -> int:
        """People who must approve a limit change: 0 for a decrease or a small increase, 1, or 2."""
        if self.increase_over is None or change <= self.increase_over:
            return 0
        return 2 if self.second_over is not None and change > self.second_over else 1


@dataclass(frozen=True)
class CreditAssessment:
    score: Decimal
    dimensions: tuple
    scored_rating: str
    override: str | None
    rating: str
    limit: Decimal  # proposed
    change: Decimal  # proposed less the current limit
    approvals: int
    explanation: dict


# --- parsing -----------------------------------------------------------------------------------

def parse_credit_score(doc: Document, facts: dict, errors: list[RuleError]) -> tuple:
    data, p = doc.data[SECTION], (SECTION,)
    start = len(errors)
    rules: list[Rule] = []

    def rule(name, when, then, path, priority, description=""):
        try:
            condition = checked_condition(when, facts)
        except ConditionError as e:
            errors.append(doc.error(path, str(e)))
            return
        rules.append(Rule(name, when, then, priority, doc.line(path), condition, description))

    dimensions = _dimensions(doc, facts, errors, SECTION, dealer_facts=True)
    ratings = _tiers(doc, errors, SECTION, "ratings", "rating")
    months = {}
    for i, raw in enumerate(data["ratings"]):
        months[raw["name"]] = exact(doc, p + ("ratings", i, "limit_months"), raw["limit_months"], errors)
    for i, r in enumerate(ratings):
        if r.min_score is not None:
            rule(f"rating-{r.name}", f"{SCORE_FACT} >= {plain(r.min_score)}", {"rating": r.name},
                 p + ("ratings", i), 100 + len(ratings) - i, f"the {r.name} threshold")

    overrides = [Override(raw["name"], raw.get("description", ""), raw["when"], from_ratings, raw["to"])
                 for raw, from_ratings in _overrides(doc, errors, data, p, facts, ratings, rule, field="rating")]

    limit = data["limit"]
    round_to = exact(doc, p + ("limit", "round_to"), limit["round_to"], errors)
    if round_to is not None and round_to <= 0:
        errors.append(doc.error(p + ("limit", "round_to"), "round to an amount above 0, e.g. 1000"))
    max_limit = exact(doc, p + ("limit", "max"), limit["max"], errors) if "max" in limit else None
    approval = data.get("approval", {})
    over = exact(doc, p + ("approval", "increase_over"), approval["increase_over"], errors) if approval else None
    second = exact(doc, p + ("approval", "second_over"), approval["second_over"], errors) \
        if "second_over" in approval else None
    if over is not None and second is not None and second < over:
        errors.append(doc.error(p + ("approval", "second_over"), f"the second approval starts above the first:"
                                f" {plain(second)} is below increase_over {plain(over)}"))
    default = {"rating": ratings[-1].name} if ratings else {}
    if len(errors) > start:
        return None, tuple(rules), default
    spec = CreditScoreSpec(
        id=doc.data["ruleset"], dimensions=tuple(dimensions), ratings=tuple(ratings), limit_months=months,
        overrides=tuple(overrides), round_to=round_to, max_limit=max_limit,
        keep_under_months=limit.get("keep_under_months", 0), increase_over=over, second_over=second,
        approval_role=approval.get("role"), approval_sla_seconds=seconds(approval["sla"]) if approval else None)
    return spec, tuple(rules), default


# --- test expectations -------------------------------------------------------------------------

EXPECT = {"rating": "text", "scored_rating": "text", "override": "optional text", "score": "number",
          "limit": "number", "change": "number", "approvals": "int"}


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError]) -> dict | None:
    return checked_expectation(doc, path, expect, errors,
                               {key: (lambda p, v, kind=kind: _expected(doc, p, kind, v)) for key, kind in EXPECT.items()})


def _expected(doc: Document, path: tuple, kind: str, value) -> tuple[object, str | None]:
    if kind == "number":
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            number = Decimal(doc.raw.get(path, str(value)) if isinstance(value, float) else str(value))
            if not number.is_finite():
                raise InvalidOperation
            return number, None
        except InvalidOperation:
            return value, f"expected a number like 80.00, got {value!r}"
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2:
            return value, None
        return value, f"expected 0, 1 or 2 approvals, got {value!r}"
    if not (isinstance(value, str) or (value is None and kind == "optional text")):
        return value, f"expected {'an override name or null' if kind == 'optional text' else 'a rating'}, got {value!r}"
    return value, None


# --- assessment ----------------------------------------------------------------------------------

def proposed_limit(spec: CreditScoreSpec, rating: str, figures: dict, current: Decimal) -> tuple[Decimal, str]:
    """The limit the rating gives, and why, in words."""
    history = figures.get("months_of_history") or 0
    if history < spec.keep_under_months:
        return current, (f"{history} months of history, fewer than {spec.keep_under_months}: the limit stays"
                         f" {current:,.2f}")
    base = Decimal(figures.get("monthly_purchases") or 0)
    months = spec.limit_months[rating]
    raw = base * months
    limit = (raw / spec.round_to).to_integral_value(ROUND_FLOOR) * spec.round_to
    why = (f"monthly purchases {base:,.2f} × {plain(months)} months (rating {rating}) = {raw:,.2f},"
           f" rounded down to {limit:,.2f}")
    if spec.max_limit is not None and limit > spec.max_limit:
        limit = spec.max_limit
        why += f", at most {spec.max_limit:,.2f}"
    return max(limit, ZERO).quantize(CENTS), why


def assess_credit(ruleset: CompiledRuleset, spec: CreditScoreSpec, dealer: dict, figures: dict,
                  score: Decimal | None = None) -> CreditAssessment:
    """One dealer: the score computed here (or given), one engine call for ratings and overrides,
    then the proposed limit and how many people must approve it."""
    specs = ruleset.rule_file.facts
    dims: tuple = ()
    if score is None:
        score, dims = score_dimensions(spec, {**dealer, **figures})
    score = coerce(specs[SCORE_FACT], score)
    facts = {**dealer, SCORE_FACT: score}
    for name, fact in specs.items():
        if name.startswith("dealer.") or name == SCORE_FACT:
            continue
        value = figures.get(name)
        facts[name] = coerce(fact, value) if value is not None else 0
    decision = ruleset.decide(facts)
    matched = [m["name"] for m in decision.matched]
    scored = next((r.name for r in spec.ratings if f"rating-{r.name}" in matched), spec.ratings[-1].name)
    override = next((o for o in spec.overrides if f"override-{o.name}" in matched), None)
    rating = override.to if override else scored
    current = Decimal(dealer.get("dealer.credit_limit") or 0).quantize(CENTS)
    limit, limit_why = proposed_limit(spec, rating, figures, current)
    change = limit - current
    approvals = spec.approvals(change)
    floor = spec.rating(scored).min_score
    reason = [f"score {score:.2f} " + (f"reaches {scored} ({plain(floor)})" if floor is not None
                                       else f"is below every threshold: {scored}")]
    if override:
        reason.append(f"override '{override.name}' makes it {override.to}"
                      + (f" ({override.description})" if override.description else ""))
    reason.append(limit_why)
    if change:
        reason.append(f"limit {'up' if change > 0 else 'down'} {abs(change):,.2f}: "
                      + ("applies at once" if not approvals else
                         f"over {spec.increase_over:,.2f}, " + ("two people approve" if approvals == 2
                                                                else "a person approves")))
    shown = {**{k: _shown(v) for k, v in sorted(figures.items())},
             **{k: _shown(dealer.get(k)) for k in ("dealer.tier", "dealer.credit_points") if k in dealer}}
    explanation = {
        "ruleset": ruleset.name, "version": ruleset.version, "file": ruleset.rule_file.file, "score": f"{score:.2f}",
        "dimensions": [_dimension_shown(spec, ds) for ds in dims], "scored_rating": scored, "rating": rating,
        "matched": matched,
        "override": {"name": override.name, "description": override.description, "when": override.when}
        if override else None,
        "limit": {"current": f"{current:.2f}", "proposed": f"{limit:.2f}", "change": f"{change:.2f}",
                  "approvals": approvals, "why": limit_why},
        "figures": shown, "reason": "; ".join(reason)}
    return CreditAssessment(score, dims, scored, override.name if override else None, rating, limit, change,
                            approvals, explanation)


def observed(a: CreditAssessment) -> dict:
    return {"rating": a.rating, "scored_rating": a.scored_rating, "override": a.override, "score": a.score,
            "limit": a.limit, "change": a.change, "approvals": a.approvals}


def split_given(given: dict) -> tuple[dict, dict, Decimal | None]:
    dealer = {k: v for k, v in given.items() if k.startswith("dealer.")}
    figures = {k: v for k, v in given.items() if not k.startswith("dealer.") and k != SCORE_FACT}
    return dealer, figures, given.get(SCORE_FACT)


def _run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    """A test expects the rating, score, limit and approvals; channel signals it leaves out are neutral."""
    given = {**{k: v for k, v in DEFAULTS.items() if v is not None}, **given}
    a = assess_credit(ruleset, ruleset.rule_file.spec, *split_given(given))
    return observed(a), a.explanation["reason"]


# A figure a test leaves out has no value; the current limit is 0 and the channel signals neutral.
DEFAULTS = {**{name: None for name in CREDIT_FIGURES}, "dealer.credit_limit": Decimal("0.00"),
            "dealer.credit_points": 100, "dealer.tier": "normal", "dealer.rating": "C"}

PLUGIN = KindPlugin(
    name="credit_score",
    description="Credit scoring from payment behaviour: scorecard, ratings, overrides, proposed limit, approvals.",
    outcome={"type": "object", "properties": {"rating": {"type": "string"}}},
    parse=parse_credit_score,
    expectation=lambda doc, path, expect, errors, rules: expectation(doc, path, expect, errors),
    run=_run,
    section=SECTION,
    section_schema=CREDIT_SCORE_SECTION,
    facts={**CREDIT_DEALER_FACTS, **CREDIT_FIGURES},
    defaults=DEFAULTS,
    patterns={RATING["pattern"]: "a rating: one capital letter such as A", SCORED["pattern"]:
              "a figure such as days_late, or a dealer fact such as dealer.credit_points"},
)
