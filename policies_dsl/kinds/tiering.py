"""The tiering file (`kind: tiering`): the schema of the `tiering:` section; the section checked beyond
its schema and turned into a TieringSpec, plus the rules derived from it — one per tier threshold,
override and tag rule — which the engine evaluates like any other rule file. `assess_tier` computes
a dealer's weighted score exactly (Decimal), then asks the engine once which thresholds, overrides
and tags hold; a test expects the tier, tags and score."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..compiler import CENT, checked_condition
from ..conditions import ConditionError
from ..engine import CompiledRuleset
from ..errors import RuleError, did_you_mean
from ..expectations import checked_expectation
from ..facts import coerce
from ..loader import Document
from ..texts import LANGUAGES, bilingual, text_in, text_schema
from ..model import Rule
from .fragments import CODE, DEALER_FACTS, DURATION, ROLE, ROLE_SLA, SHARE, exact, plain, seconds, share
from .plugin import KindPlugin

HUNDRED = Decimal(100)
ZERO = Decimal(0)
SHOWN = Decimal("0.000001")  # ratios are exact; people read them to 6 places
# Figures a dimension may score: the numeric facts of TIERING_FIGURES.
NUMERIC = ("int", "decimal", "money")
SCORE_FACT = "score"

SIGNED = {"type": ["string", "number"], "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
SCORE = {"type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]+)?$", "minimum": 0, "maximum": 100,
         "description": "points, 0 to 100"}
SILENCE = {"type": "string", "pattern": r"^[1-9][0-9]*( months?|s|m|h|d)$"}
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
                      "properties": {"name": CODE, "title": text_schema(maxLength=100),
                                     "min_score": SCORE,
                                     "benefits": {"type": "array", "items": text_schema(),
                                                  "description": "what the tier brings, shown to dealers and HQ"},
                                     "acts": {
                                         "type": "object", "additionalProperties": False, "minProperties": 1,
                                         "description": "the benefits the platform applies (SLA targets per tier are"
                                                        " the service file's)",
                                         "properties": {
                                             "supply_priority": {
                                                 "type": "integer", "minimum": 0, "maximum": 100,
                                                 "description": "read by the allocation rules as"
                                                                " dealer.supply_priority: who goes first when stock"
                                                                " is short (default 0)"},
                                             "early_access": {
                                                 **DURATION,
                                                 "description": "new-product policies: dealer.early_access is true"
                                                                " for this tier (policy targeting), and"
                                                                " dealer.early_access_days says how many days"
                                                                " before the others"}}}}},
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
    "requests_closed": {"type": "int", "description": "the dealer's requests (诉求) closed in the 12 months"},
    "rating_rate": {"type": "decimal", "description": "closed requests the dealer rated when asked / requests"
                                                      " closed (no value without a closed request)"},
    "satisfaction_share": {"type": "decimal", "description": "the dealer's average satisfaction with the answers,"
                                                             " as a share of the service file's scale: 0 the lowest"
                                                             " score, 1 the highest (no value without a rating)"},
    **{f"order_growth_m{k}": {"type": "decimal",
                              "description": f"orders placed in the {('last', 'second-last', 'third-last')[k - 1]} month"
                                             " before the run over the dealer's average month in the 12 before the"
                                             " last three, less 1; 0 without orders then"} for k in (1, 2, 3)},
    "score": {"type": "decimal", "description": "the weighted scorecard, 0 to 100"},
}



@dataclass(frozen=True)
class Dimension:
    key: str
    title: str
    weight: Decimal  # 0.30 for 30%
    figures: tuple  # the figures it scores; several are averaged
    shape: str  # scale (piecewise linear) | bands (steps)
    points: tuple  # (at, score), rising `at`
    missing: Decimal  # the score when none of its figures has a value

    def score_of(self, value: Decimal) -> Decimal:
        if self.shape == "bands":  # the band reached; below the first band, nothing
            return next((s for at, s in reversed(self.points) if value >= at), ZERO)
        (a0, s0), (an, sn) = self.points[0], self.points[-1]
        if value <= a0:
            return s0
        if value >= an:
            return sn
        for (a, s), (b, t) in zip(self.points, self.points[1:]):
            if value <= b:
                return s + (value - a) * (t - s) / (b - a)
        raise AssertionError("unreachable")

    def describe(self) -> str:
        return _described(self.points)


@lru_cache(maxsize=1024)
def _described(points: tuple) -> str:
    """A dimension's points as people read them (the same for every dealer a run scores)."""
    return ", ".join(f"{plain(a)}→{plain(s)}" for a, s in points)


@dataclass(frozen=True)
class Tier:
    name: str
    title: str  # in English, or the file's plain text
    min_score: Decimal | None  # None: the last tier, every dealer below the others
    benefits: tuple  # in English, or the file's plain texts
    texts: tuple = ()  # with bilingual texts in the file: (language, title, benefits) for zh and en
    supply_priority: int = 0  # acts: the allocation rules' dealer.supply_priority
    early_access_days: int = 0  # acts: new-product policies this many days before the others; 0: none

    def title_in(self, lang: str) -> str:
        return self._in(lang)[1] if self.texts else self.title

    def benefits_in(self, lang: str) -> tuple:
        return self._in(lang)[2] if self.texts else self.benefits

    def _in(self, lang: str) -> tuple:
        want = "zh" if lang.lower().startswith("zh") else "en"
        return next(t for t in self.texts if t[0] == want)


@dataclass(frozen=True)
class Override:
    name: str
    description: str
    when: str
    from_tiers: tuple  # the tiers by score it applies to; () for all
    to: str


@dataclass(frozen=True)
class TagRule:
    tag: str
    when: str
    description: str


@dataclass(frozen=True)
class TieringSpec:
    id: str
    dimensions: tuple
    tiers: tuple  # highest first
    overrides: tuple
    tag_rules: tuple
    manual_tags: tuple
    approval_from: tuple  # downgrades from these tiers wait for a person
    approval_role: str | None
    approval_sla_seconds: int | None
    silent_after: tuple | None  # ("months", 6) or ("seconds", 30); None: no silent-dealer tracking
    silent_role: str | None  # account_manager: each dealer's own account manager
    silent_sla_seconds: int | None
    actions: dict  # tag (or "default") → suggested activation actions

    @property
    def owned_tags(self) -> tuple:
        """Tags the rules set and clear; every other tag on a dealer is kept as it is."""
        return tuple(r.tag for r in self.tag_rules)

    def rank(self, tier: str) -> int:
        """0 for the highest tier; a tier the file does not know ranks below all."""
        return next((i for i, t in enumerate(self.tiers) if t.name == tier), len(self.tiers))

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)

    def needs_approval(self, old: str, new: str) -> bool:
        return old in self.approval_from and self.rank(new) > self.rank(old)

    def actions_for(self, tags) -> list[str]:
        """Suggested activation actions for a silent dealer: the default ones, then each tag's."""
        out = list(self.actions.get("default", ()))
        for tag, actions in self.actions.items():
            if tag != "default" and tag in tags:
                out += [a for a in actions if a not in out]
        return out


@dataclass(frozen=True)
class TierAssessment:
    score: Decimal
    dimensions: tuple  # DimensionScore; empty when the score was given
    scored_tier: str
    override: str | None
    tier: str
    owned: tuple  # rule-owned tags that hold, sorted
    tags: tuple  # the dealer's tags after the run: kept ones and `owned`, sorted
    explanation: dict  # JSON-safe


@dataclass(frozen=True)
class DimensionScore:
    key: str
    weight: Decimal
    values: dict  # figure → value, or None for no value
    score: Decimal
    missing: bool


# --- parsing -----------------------------------------------------------------------------------

def parse_tiering(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[TieringSpec | None, tuple, dict]:
    """The TieringSpec, the derived rules and their default; problems go to `errors`."""
    data, p = doc.data["tiering"], ("tiering",)
    start_errors = len(errors)
    rules: list[Rule] = []

    def rule(name, when, then, path, priority, description=""):
        try:
            condition = checked_condition(when, facts)
        except ConditionError as e:
            errors.append(doc.error(path, str(e)))
            return False
        rules.append(Rule(name, when, then, priority, doc.line(path), condition, description))
        return True

    dimensions = _dimensions(doc, facts, errors)
    tiers = _tiers(doc, errors)
    names = [t.name for t in tiers]
    # A higher tier wins over a lower one; any override wins over the thresholds.
    for i, t in enumerate(tiers):
        if t.min_score is not None:
            rule(f"tier-{t.name}", f"{SCORE_FACT} >= {plain(t.min_score)}", {"tier": t.name},
                 p + ("tiers", i), 100 + len(tiers) - i, f"the {t.name} threshold")

    overrides = [Override(raw["name"], raw.get("description", ""), raw["when"], from_tiers, raw["to"])
                 for raw, from_tiers in _overrides(doc, errors, data, p, facts, tiers, rule, field="tier")]

    tags_data = data.get("tags", {})
    manual = tuple(tags_data.get("manual", ()))
    tag_rules, tag_lines = [], {}
    for i, raw in enumerate(tags_data.get("rules", [])):
        path = p + ("tags", "rules", i)
        tag = raw["tag"]
        if tag in tag_lines:
            errors.append(doc.error(path + ("tag",), f"tag '{tag}' already has a rule on line {tag_lines[tag]}:"
                                                     " join the conditions with `or`"))
        elif tag in manual:
            errors.append(doc.error(path + ("tag",), f"tag '{tag}' is listed as manual: people set it, a rule may not"))
        tag_lines.setdefault(tag, doc.line(path + ("tag",)))
        if rule(f"tag-{tag}", raw["when"], {"tag": tag}, path + ("when",), 0, raw.get("description", "")):
            tag_rules.append(TagRule(tag, raw["when"], raw.get("description", "")))

    approval = data.get("approval", {})
    for j, name in enumerate(approval.get("downgrade_from", ())):
        if name not in names:
            errors.append(_unknown_tier(doc, p + ("approval", "downgrade_from", j), name, names))
    silent = data.get("silent")
    default = {"tier": tiers[-1].name} if tiers else {}
    if len(errors) > start_errors:
        return None, tuple(rules), default
    spec = TieringSpec(
        id=doc.data["ruleset"], dimensions=tuple(dimensions), tiers=tuple(tiers), overrides=tuple(overrides),
        tag_rules=tuple(tag_rules), manual_tags=manual, approval_from=tuple(approval.get("downgrade_from", ())),
        approval_role=approval.get("role"), approval_sla_seconds=seconds(approval["sla"]) if approval else None,
        silent_after=_period(silent["after"]) if silent else None,
        silent_role=silent["task"]["role"] if silent else None,
        silent_sla_seconds=seconds(silent["task"]["sla"]) if silent else None,
        actions={k: tuple(v) for k, v in (silent or {}).get("actions", {}).items()})
    return spec, tuple(rules), default


def _dimensions(doc: Document, facts: dict, errors: list[RuleError], section: str = "tiering",
                dealer_facts: bool = False) -> list[Dimension]:
    """A scorecard section's dimensions (the credit scorecard shares them); `dealer_facts`: the
    dealer's numeric facts may be scored too."""
    p = (section, "dimensions")
    figures = [n for n, f in facts.items()
               if f.type in NUMERIC and (dealer_facts or not n.startswith("dealer.")) and n != SCORE_FACT]
    out, keys, weights = [], {}, []
    for i, raw in enumerate(doc.data[section]["dimensions"]):
        path = p + (i,)
        _once(doc, errors, path + ("key",), "dimension", raw["key"], keys)
        weight = share(raw["weight"])
        weights.append((raw["key"], raw["weight"], weight))
        sources = [raw["from"]] if isinstance(raw["from"], str) else list(raw["from"])
        for j, name in enumerate(sources):
            if name not in figures:
                where = path + (("from",) if isinstance(raw["from"], str) else ("from", j))
                errors.append(doc.error(where, f"unknown figure '{name}'{did_you_mean(name, figures)}"
                                               f" (figures: {', '.join(figures)})"))
        if len(set(sources)) != len(sources):
            errors.append(doc.error(path + ("from",), "a figure is listed twice"))
        if ("scale" in raw) == ("bands" in raw):
            errors.append(doc.error(path, "give either scale (a line through points) or bands (steps),"
                                          " not both or neither"))
            continue
        shape = "scale" if "scale" in raw else "bands"
        points, previous = [], None
        for j, point in enumerate(raw[shape]):
            at = exact(doc, path + (shape, j, "at"), point["at"], errors)
            score = _points(doc, path + (shape, j, "score"), point["score"], errors)
            if at is None or score is None:
                continue
            if previous is not None and at <= previous[0]:
                errors.append(doc.error(path + (shape, j, "at"), f"points must rise: {plain(at)} is not above"
                                                                 f" {plain(previous[0])} (line {previous[1]})"))
            previous = (at, doc.line(path + (shape, j, "at")))
            points.append((at, score))
        missing = _points(doc, path + ("missing",), raw["missing"], errors) if "missing" in raw else ZERO
        out.append(Dimension(raw["key"], raw.get("title", raw["key"].replace("_", " ")), weight, tuple(sources),
                             shape, tuple(points), missing or ZERO))
    total = sum((w for _, _, w in weights), ZERO) * HUNDRED
    if weights and total != HUNDRED:
        parts = " + ".join(f"{key} {text}" for key, text, _ in weights)
        errors.append(doc.error(p, f"the weights add up to {plain(total.normalize())}%, not 100% ({parts})"))
    return out


def _tiers(doc: Document, errors: list[RuleError], section: str = "tiering", key: str = "tiers",
           what: str = "tier") -> list[Tier]:
    """Grades from the highest score down (the credit scorecard's ratings share them)."""
    p = (section, key)
    raws = doc.data[section][key]
    out, seen, previous = [], {}, None
    for i, raw in enumerate(raws):
        path = p + (i,)
        _once(doc, errors, path + ("name",), what, raw["name"], seen)
        last = i == len(raws) - 1
        floor = _points(doc, path + ("min_score",), raw["min_score"], errors) if "min_score" in raw else None
        if last and "min_score" in raw:
            errors.append(doc.error(path + ("min_score",), f"the last {what} takes every dealer below the others:"
                                                           " leave out its min_score"))
            floor = None
        elif not last and "min_score" not in raw:
            errors.append(doc.error(path, f"{what} '{raw['name']}' needs a min_score (only the last {what} has none)"))
        if floor is not None:
            if previous is not None and floor >= previous[0]:
                errors.append(doc.error(path + ("min_score",), f"{what}s go from the highest score down:"
                                        f" {plain(floor)} is not below {plain(previous[0])} (line {previous[1]})"))
            previous = (floor, doc.line(path + ("min_score",)))
        title, benefits = raw.get("title", raw["name"]), tuple(raw.get("benefits", ()))
        texts = tuple((lang, text_in(title, lang), tuple(text_in(b, lang) for b in benefits)) for lang in LANGUAGES) \
            if bilingual(title) or any(map(bilingual, benefits)) else ()
        acts = raw.get("acts", {})
        early = 0
        if "early_access" in acts:
            early = seconds(acts["early_access"])
            if early % 86400:
                errors.append(doc.error(path + ("acts", "early_access"), f"early access is counted in whole days"
                                                                         f" (7d), not {acts['early_access']}"))
            early //= 86400
        priority = acts.get("supply_priority", 0)
        if out and priority > out[-1].supply_priority:
            errors.append(doc.error(path + ("acts", "supply_priority"),
                                    f"a lower {what} cannot go before a higher one for supply: {priority} is above"
                                    f" {out[-1].name}'s {out[-1].supply_priority}"))
        if out and early > out[-1].early_access_days:
            errors.append(doc.error(path + ("acts", "early_access"),
                                    f"a lower {what} cannot get new products earlier than a higher one:"
                                    f" {early} days is more than {out[-1].name}'s {out[-1].early_access_days}"))
        out.append(Tier(raw["name"], text_in(title), floor, tuple(text_in(b) for b in benefits), texts,
                        priority, early))
    return out


def _once(doc: Document, errors: list[RuleError], path: tuple, what: str, name: str, seen: dict) -> None:
    """`name` is listed once: a second one is an error naming the first's line."""
    if name in seen:
        errors.append(doc.error(path, f"duplicate {what} '{name}' (also on line {seen[name]})"))
    seen.setdefault(name, doc.line(path))



def _overrides(doc: Document, errors: list[RuleError], data: dict, p: tuple, facts: dict, levels: list, rule, *,
               field: str) -> list[tuple[dict, tuple]]:
    """A scorecard's `overrides` (tiering's tiers, credit scoring's ratings): each checked — a unique
    name, known levels, a condition over the declared facts — and compiled to a rule setting `field`
    that wins over the thresholds, the first listed first. Returns (raw, the levels it applies from)."""
    names = [level.name for level in levels]
    out, seen = [], {}
    for i, raw in enumerate(data.get("overrides", [])):
        path = p + ("overrides", i)
        _once(doc, errors, path + ("name",), "override name", raw["name"], seen)
        from_levels = tuple(raw.get("from", ()))
        for j, name in enumerate((*from_levels, raw["to"])):
            if name not in names:
                where = path + (("from", j) if j < len(from_levels) else ("to",))
                errors.append(doc.error(where, f"unknown {field} '{name}'{did_you_mean(name, names)}"
                                               f" ({field}s: {', '.join(names)})"))
        if raw["to"] in from_levels:
            errors.append(doc.error(path + ("to",), f"an override from {raw['to']} to {raw['to']} changes nothing"))
        try:  # checked alone first, so an error's column points into what the admin wrote
            checked_condition(raw["when"], facts)
        except ConditionError as e:
            errors.append(doc.error(path + ("when",), str(e)))
            continue
        bounds = _bounds(levels, from_levels) if all(n in names for n in from_levels) else ""
        when = f"({raw['when']}) and ({bounds})" if bounds else raw["when"]
        # The first override listed wins: priorities fall with the position.
        rule(f"override-{raw['name']}", when, {field: raw["to"]}, path, 1000 - i, raw.get("description", ""))
        out.append((raw, from_levels))
    return out

def _unknown_tier(doc: Document, path: tuple, name: str, names: list) -> RuleError:
    return doc.error(path, f"unknown tier '{name}'{did_you_mean(name, names)} (tiers: {', '.join(names)})")


def _points(doc: Document, path: tuple, value, errors: list[RuleError]) -> Decimal | None:
    """A score: 0 to 100 points."""
    number = exact(doc, path, value, errors)
    if number is not None and not ZERO <= number <= HUNDRED:
        errors.append(doc.error(path, f"a score is 0 to 100 points, not {plain(number)}"))
        return None
    return number


def _bounds(tiers: list[Tier], names: tuple) -> str:
    """A condition on the score that holds exactly for dealers whose score puts them in `names`."""
    parts = []
    for i, t in enumerate(tiers):
        if t.name not in names:
            continue
        terms = []
        if t.min_score is not None:
            terms.append(f"{SCORE_FACT} >= {plain(t.min_score)}")
        if i > 0 and tiers[i - 1].min_score is not None:
            terms.append(f"{SCORE_FACT} < {plain(tiers[i - 1].min_score)}")
        parts.append(" and ".join(terms) or "true")
    return " or ".join(f"({x})" if " and " in x and len(parts) > 1 else x for x in parts)


def _period(text: str) -> tuple:
    """'6 months' → ("months", 6); a duration like '180d' or '5s' → ("seconds", n)."""
    if text.endswith(("month", "months")):
        return "months", int(text.split()[0])
    return "seconds", seconds(text)


# --- test expectations -------------------------------------------------------------------------

EXPECT = {"tier": "text", "scored_tier": "text", "override": "optional text", "tags": "list", "score": "score"}


def expectation(doc: Document, path: tuple, expect: dict, errors: list[RuleError]) -> dict | None:
    """A tiering test's `expect`, checked and made exact (the score as Decimal); None when wrong."""
    return checked_expectation(doc, path, expect, errors,
                               {key: (lambda p, v, kind=kind: _expected(doc, p, kind, v)) for key, kind in EXPECT.items()})


def _expected(doc: Document, path: tuple, kind: str, value) -> tuple[object, str | None]:
    if kind == "score":
        try:
            number = Decimal(doc.raw.get(path, str(value)) if isinstance(value, float) else str(value))
            if not number.is_finite() or isinstance(value, bool):
                raise InvalidOperation
            return number, None
        except InvalidOperation:
            return value, f"expected a score like 80.00, got {value!r}"
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return value, f"expected a list of tags, got {value!r}"
        return sorted(value), None
    if not (isinstance(value, str) or (value is None and kind == "optional text")):
        wanted = "an override name or null" if kind == "optional text" else "a tier name"
        return value, f"expected {wanted}, got {value!r}"
    return value, None


def observed(a: TierAssessment) -> dict:
    return {"tier": a.tier, "scored_tier": a.scored_tier, "override": a.override, "tags": list(a.tags),
            "score": a.score}


def split_given(given: dict) -> tuple[dict, dict, Decimal | None]:
    """A test's flat facts → (dealer facts, figures, score or None to compute it)."""
    dealer = {k: v for k, v in given.items() if k.startswith("dealer.")}
    figures = {k: v for k, v in given.items() if not k.startswith("dealer.") and k != SCORE_FACT}
    return dealer, figures, given.get(SCORE_FACT)


# --- assessment ----------------------------------------------------------------------------------

def ratio(numerator, denominator) -> Decimal | None:
    """A share or a growth, exact (shown rounded); None when there is nothing to divide by."""
    return Decimal(numerator) / Decimal(denominator) if denominator else None


def with_growth(figures: dict) -> dict:
    """Growth from purchases and prior purchases: no value without prior purchases."""
    purchases, prior = figures.get("purchases"), figures.get("prior_purchases")
    growth = ratio(Decimal(purchases) - prior, prior) if purchases is not None and prior and prior > 0 else None
    return {**figures, "growth": growth}


def score_dimensions(spec: TieringSpec, figures: dict) -> tuple[Decimal, tuple]:
    """The weighted score (0–100, to cents of a point) and each dimension's score. A dimension over
    several figures averages the scores of those that have a value."""
    out, total = [], ZERO
    for d in spec.dimensions:
        values = {f: figures.get(f) for f in d.figures}
        present = [Decimal(v) for v in values.values() if v is not None]
        if present:
            score = sum((d.score_of(v) for v in present), ZERO) / len(present)
        else:
            score = d.missing
        score = score.quantize(CENT, ROUND_HALF_UP)
        total += d.weight * score
        out.append(DimensionScore(d.key, d.weight, values, score, not present))
    return total.quantize(CENT, ROUND_HALF_UP), tuple(out)


def assess_tier(ruleset: CompiledRuleset, spec: TieringSpec, dealer: dict, figures: dict,
                score: Decimal | None = None) -> TierAssessment:
    """One dealer: the score computed here (or given), then one engine call for the thresholds,
    overrides and tags. A figure without a value is 0 in conditions (see its `_due` count)."""
    specs = ruleset.rule_file.facts
    figures = with_growth(figures)
    dims: tuple = ()
    if score is None:
        score, dims = score_dimensions(spec, figures)
    score = coerce(specs[SCORE_FACT], score)
    facts = {**dealer, SCORE_FACT: score}
    for name, fact in specs.items():
        if name.startswith("dealer.") or name == SCORE_FACT:
            continue
        value = figures.get(name)
        facts[name] = coerce(fact, value) if value is not None else ("" if fact.type == "string" else 0)
    decision = ruleset.decide(facts)
    matched = [m["name"] for m in decision.matched]
    scored = next((t.name for t in spec.tiers if f"tier-{t.name}" in matched), spec.tiers[-1].name)
    override = next((o for o in spec.overrides if f"override-{o.name}" in matched), None)
    tier = override.to if override else scored
    owned = tuple(sorted(r.tag for r in spec.tag_rules if f"tag-{r.tag}" in matched))
    current = set(dealer.get("dealer.tags", ()))
    tags = tuple(sorted((current - set(spec.owned_tags)) | set(owned)))

    floor = spec.tier(scored).min_score
    reason = [f"score {score:.2f} " + (f"reaches {scored} ({plain(floor)})" if floor is not None
                                       else f"is below every threshold: {scored}")]
    if override:
        reason.append(f"override '{override.name}' makes it {override.to}"
                      + (f" ({override.description})" if override.description else ""))
    added, cleared = sorted(set(owned) - current), sorted((current & set(spec.owned_tags)) - set(owned))
    if added:
        reason.append(f"tags set: {', '.join(added)}")
    if cleared:
        reason.append(f"tags cleared: {', '.join(cleared)}")
    explanation = {
        "ruleset": ruleset.name, "version": ruleset.version, "file": ruleset.rule_file.file, "score": f"{score:.2f}",
        "dimensions": [_dimension_shown(spec, ds) for ds in dims],
        "scored_tier": scored, "tier": tier, "matched": matched,
        "override": {"name": override.name, "description": override.description, "when": override.when}
        if override else None,
        "tags": {"owned": list(owned), "set": added, "cleared": cleared, "after": list(tags)},
        "figures": {k: _shown(v) for k, v in sorted(figures.items())},
        "reason": "; ".join(reason)}
    return TierAssessment(score, dims, scored, override.name if override else None, tier, owned, tags, explanation)


def _dimension_shown(spec: TieringSpec, ds: DimensionScore) -> dict:
    d = next(x for x in spec.dimensions if x.key == ds.key)
    values = ", ".join(f"{k} {_shown(v) if v is not None else 'no value'}" for k, v in ds.values.items())
    why = (f"{values}: no value, scored {plain(d.missing)}" if ds.missing else
           f"{values} on the {d.shape} {d.describe()}" + (" (averaged)" if len(ds.values) > 1 else ""))
    return {"key": d.key, "title": d.title, "weight": f"{plain((d.weight * 100).normalize())}%",
            "values": {k: _shown(v) for k, v in ds.values.items()}, "score": f"{ds.score:.2f}",
            "points": plain((d.weight * ds.score).normalize()), "why": f"{why} = {ds.score:.2f}"}


def _shown(value):
    if value is None or isinstance(value, (int, str)):
        return value
    return plain(value) if value == value.quantize(CENT) else plain(value.quantize(SHOWN, ROUND_HALF_UP).normalize())


def _run(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    """A test expects the tier, tags and score."""
    tiered = assess_tier(ruleset, ruleset.rule_file.spec, *split_given(given))
    return observed(tiered), tiered.explanation["reason"]


PLUGIN = KindPlugin(
    name="tiering",
    description="Dealer tiering: scorecard, thresholds, overrides, tags, benefits, silent dealers.",
    outcome={"type": "object", "properties": {"tier": {"type": "string"}, "tag": {"type": "string"}}},
    parse=parse_tiering,
    expectation=lambda doc, path, expect, errors, rules: expectation(doc, path, expect, errors),
    run=_run,
    section="tiering",
    section_schema=TIERING_SECTION,
    facts={**DEALER_FACTS, **TIERING_FIGURES},
    derived={"growth": ("purchases", "prior_purchases")},
    # A figure a test leaves out has no value (the dimension scores it `missing`); no score: computed.
    defaults={name: None for name in TIERING_FIGURES if name != "growth"},
    patterns={SIGNED["pattern"]: "a number like 0.5 or -0.2", SILENCE["pattern"]: "a period like 6 months, 180d or 30s"},
    follows_latest=True,  # a run awaiting its downgrade approvals applies them with the version in force
)
