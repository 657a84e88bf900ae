"""The tiering file: the `tiering:` section validated with file:line errors (weights that do not add
up to 100% are refused), the weighted score computed exactly, and thresholds, overrides and tags
decided by the engine in one call per dealer, at their edges."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import RuleFileError, TieringSpec, assess_tier, compile_rule_file, load_rule_file, run_rule_tests

TIERING = """\
ruleset: trial_tiering
kind: tiering
tiering:
  dimensions:
    - {key: scale, weight: 60%, from: purchases_rank_in_region, scale: [{at: 0, score: 0}, {at: 100, score: 100}]}
    - {key: growth, weight: 40%, from: growth, scale: [{at: -0.5, score: 0}, {at: 0, score: 30}, {at: 1, score: 90}],
       missing: 50}
  tiers:
    - {name: core, min_score: 80, benefits: [New products first]}
    - {name: key, min_score: 60}
    - {name: normal}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/tiering.yaml", text)
    return [str(x) for x in e.value.errors]


class Scorecard:
    def __init__(self, text: str = TIERING):
        self.rule_file = load_rule_file("t.yaml", text)
        self.ruleset = compile_rule_file(self.rule_file, 1)
        self.spec: TieringSpec = self.rule_file.spec

    def __call__(self, score=None, tags=(), tier="normal", **figures):
        dealer = {"dealer.tags": list(tags), "dealer.tier": tier, "dealer.level": 1}
        return assess_tier(self.ruleset, self.spec, dealer, figures, None if score is None else Decimal(score))


# --- the shipped file ----------------------------------------------------------------------------

def test_the_shipped_file_validates_and_passes_its_tests():
    rule_file = load_rule_file(ROOT / "rules" / "tiering.yaml")
    results = run_rule_tests(rule_file)
    assert len(results) >= 10 and all(r.passed for r in results), [r for r in results if not r.passed]
    spec = rule_file.spec
    assert [(d.key, d.weight) for d in spec.dimensions] == [
        ("purchase_scale", Decimal("0.30")), ("category_expertise", Decimal("0.25")),
        ("terminal_coverage", Decimal("0.20")), ("growth_potential", Decimal("0.15")),
        ("collaboration", Decimal("0.10"))]
    assert [(t.name, t.min_score) for t in spec.tiers] == [("core", 80), ("key", 60), ("normal", None)]
    assert spec.owned_tags == ("window_specialist", "cabinet_specialist", "high_growth")
    assert spec.manual_tags == ("rural_market", "retail_terminal")
    assert (spec.approval_from, spec.approval_role, spec.approval_sla_seconds) == (("core",), "hq", 3 * 86400)
    assert (spec.silent_after, spec.silent_role, spec.silent_sla_seconds) == (("months", 6), "account_manager", 7 * 86400)
    assert spec.actions_for({"rural_market", "high_growth"})[-1].startswith("Offer the value range")
    assert spec.needs_approval("core", "key") and not spec.needs_approval("key", "normal")
    assert not spec.needs_approval("core", "core") and not spec.needs_approval("normal", "core")


def test_derived_rules_are_evaluated_by_the_engine():
    card = Scorecard(TIERING + "  overrides:\n    - {name: lift, from: [normal], when: terminal_stores >= 3, to: key}\n"
                               "  tags:\n    rules: [{tag: big, when: purchases >= 1000000}]\n")
    assert [(r.name, r.when) for r in card.rule_file.rules] == [
        ("tier-core", "score >= 80"), ("tier-key", "score >= 60"),
        ("override-lift", "(terminal_stores >= 3) and (score < 60)"), ("tag-big", "purchases >= 1000000")]
    assert card.rule_file.default == {"tier": "normal"}
    decision = card.ruleset.decide({"score": "59.99", "terminal_stores": 3, "purchases": "1000000.00"})
    assert decision.outcome == {"tier": "key"} and decision.rule == "override-lift"
    calls = []
    decide = card.ruleset.decide
    card.ruleset.decide = lambda facts: calls.append(facts) or decide(facts)
    card(purchases_rank_in_region=Decimal(50))
    assert len(calls) == 1  # one engine call per dealer: thresholds, overrides and tags together


# --- the score -----------------------------------------------------------------------------------

def test_the_score_is_weighted_exactly_and_explained():
    card = Scorecard()
    a = card(purchases_rank_in_region=Decimal("87.5"), purchases=Decimal("1500.00"), prior_purchases=Decimal("1000.00"))
    # 60% × 87.50 + 40% × (30 + 0.5 × 60 = 60.00)
    assert (a.score, a.tier, a.scored_tier) == (Decimal("76.50"), "key", "key")
    assert [(d.key, d.score) for d in a.dimensions] == [("scale", Decimal("87.50")), ("growth", Decimal("60.00"))]
    x = a.explanation
    assert x["dimensions"][1] == {
        "key": "growth", "title": "growth", "weight": "40%", "values": {"growth": "0.5"}, "score": "60.00",
        "points": "24", "why": "growth 0.5 on the scale -0.5→0, 0→30, 1→90 = 60.00"}
    assert x["reason"] == "score 76.50 reaches key (60)" and x["ruleset"] == "trial_tiering"
    json.dumps(x)


def test_scales_are_flat_beyond_their_ends_and_bands_step():
    card = Scorecard(TIERING.replace("from: growth, scale: [{at: -0.5, score: 0}, {at: 0, score: 30}, {at: 1, score: 90}]",
                                     "from: terminal_stores, bands: [{at: 1, score: 40}, {at: 3, score: 100}]"))
    rank = {"purchases_rank_in_region": Decimal(100)}
    assert [card(terminal_stores=n, **rank).dimensions[1].score for n in (0, 1, 2, 3, 9)] == [
        Decimal(0), Decimal(40), Decimal(40), Decimal(100), Decimal(100)]
    growth = Scorecard()
    assert growth(purchases=Decimal("0.00"), prior_purchases=Decimal("100.00")).dimensions[1].score == Decimal("0.00")
    assert growth(purchases=Decimal("900.00"), prior_purchases=Decimal("100.00")).dimensions[1].score == Decimal("90.00")
    # 1/3 of the way from 0 to 1: 30 + 20 = 50, to cents of a point
    assert growth(purchases=Decimal("400.00"), prior_purchases=Decimal("300.00")).dimensions[1].score == Decimal("50.00")


def test_a_figure_without_a_value_scores_the_missing_points():
    card = Scorecard()
    a = card(purchases_rank_in_region=Decimal(100), purchases=Decimal("500.00"))  # no prior purchases: no growth
    assert a.dimensions[1].missing and a.dimensions[1].score == Decimal("50.00") and a.score == Decimal("80.00")
    assert a.explanation["dimensions"][1]["why"] == "growth no value: no value, scored 50 = 50.00"
    averaged = Scorecard(TIERING.replace("from: growth,", "from: [ack_on_time_rate, task_completion_rate],"))
    # of two rates only one has a value: the dimension is that one's score, not an average with nothing
    one = averaged(purchases_rank_in_region=Decimal(0), ack_on_time_rate=Decimal("0.5"))
    assert one.dimensions[1].score == Decimal("60.00")
    both = averaged(purchases_rank_in_region=Decimal(0), ack_on_time_rate=Decimal("0.5"), task_completion_rate=Decimal(1))
    assert both.dimensions[1].score == Decimal("75.00")


# --- thresholds, overrides, tags at their edges ---------------------------------------------------

def test_thresholds_at_their_edges():
    card = Scorecard()
    assert [card(score=s).tier for s in ("80.00", "79.99", "60.00", "59.99", "0", "100")] == [
        "core", "key", "key", "normal", "normal", "core"]


def test_overrides_apply_only_to_their_tiers_and_the_first_wins():
    card = Scorecard(TIERING + "  overrides:\n"
                               "    - {name: demote-idle, from: [core, key], when: terminal_stores == 0, to: normal}\n"
                               "    - {name: lift, when: terminal_stores >= 3, to: core}\n")
    assert card.rule_file.rules[2].when == "(terminal_stores == 0) and (score >= 80 or (score >= 60 and score < 80))"
    assert [card(score=s, terminal_stores=0).tier for s in ("80", "60", "59.99")] == ["normal", "normal", "normal"]
    assert card(score="60", terminal_stores=0).override == "demote-idle"
    lifted = card(score="10", terminal_stores=3)
    assert (lifted.tier, lifted.scored_tier, lifted.override) == ("core", "normal", "lift")
    assert lifted.explanation["reason"] == ("score 10.00 is below every threshold: normal; override 'lift' makes it core")
    assert card(score="10", terminal_stores=2).override is None


def test_tag_rules_own_their_tags_and_keep_the_others():
    card = Scorecard(TIERING + "  tags:\n    rules:\n      - {tag: high_growth, when: growth > 0.5}\n"
                               "    manual: [rural_market]\n")
    prior = Decimal("100000.00")
    at = card(purchases=Decimal("150000.00"), prior_purchases=prior, tags=["high_growth", "rural_market", "vip"])
    assert at.tags == ("rural_market", "vip") and at.owned == ()
    assert at.explanation["tags"] == {"owned": [], "set": [], "cleared": ["high_growth"], "after": ["rural_market", "vip"]}
    over = card(purchases=Decimal("150000.01"), prior_purchases=prior, tags=["rural_market"])
    assert over.tags == ("high_growth", "rural_market") and over.owned == ("high_growth",)


# --- errors --------------------------------------------------------------------------------------

def test_weights_that_do_not_add_up_are_refused_with_file_and_line():
    assert errors_of(TIERING.replace("weight: 40%", "weight: 35%")) == [
        "rules/tiering.yaml:4 tiering.dimensions: the weights add up to 95%, not 100% (scale 60% + growth 35%)"]
    assert errors_of(TIERING.replace("weight: 40%", "weight: 40.5%")) == [
        "rules/tiering.yaml:4 tiering.dimensions: the weights add up to 100.5%, not 100% (scale 60% + growth 40.5%)"]
    shipped = (ROOT / "rules" / "tiering.yaml").read_text()
    assert errors_of(shipped.replace("weight: 15%", "weight: 20%")) == [
        "rules/tiering.yaml:10 tiering.dimensions: the weights add up to 105%, not 100% (purchase_scale 30% + "
        "category_expertise 25% + terminal_coverage 20% + growth_potential 20% + collaboration 10%)"]


def test_dimensions_name_known_figures_and_rising_points():
    assert errors_of(TIERING.replace("from: growth,", "from: grwth,")) == [
        "rules/tiering.yaml:6 tiering.dimensions[1].from: unknown figure 'grwth' — did you mean 'growth'? (figures: "
        "purchases, prior_purchases, growth, purchases_rank_in_region, category_share, terminal_stores, "
        "ack_on_time_rate, policies_due, task_completion_rate, tasks_due, requests_closed, rating_rate, "
        "satisfaction_share, order_growth_m1, order_growth_m2, order_growth_m3)"]
    assert errors_of(TIERING.replace("{at: 1, score: 90}", "{at: 0, score: 90}")) == [
        "rules/tiering.yaml:6 tiering.dimensions[1].scale[2].at: points must rise: 0 is not above 0 (line 6)"]
    assert errors_of(TIERING.replace("{at: 1, score: 90}", "{at: 1, score: \"100.5\"}")) == [
        "rules/tiering.yaml:6 tiering.dimensions[1].scale[2].score: a score is 0 to 100 points, not 100.5"]
    assert errors_of(TIERING.replace("scale: [{at: 0, score: 0}, {at: 100, score: 100}]",
                                     "scale: [{at: 0, score: 0}, {at: 100, score: 100}], bands: [{at: 0, score: 1}]")) == [
        "rules/tiering.yaml:5 tiering.dimensions[0]: give either scale (a line through points) or bands (steps), "
        "not both or neither"]


def test_tiers_fall_and_only_the_last_has_no_threshold():
    assert errors_of(TIERING.replace("{name: key, min_score: 60}", "{name: key, min_score: 80}")) == [
        "rules/tiering.yaml:10 tiering.tiers[1].min_score: tiers go from the highest score down: 80 is not below 80 (line 9)"]
    assert errors_of(TIERING.replace("{name: normal}", "{name: normal, min_score: 0}")) == [
        "rules/tiering.yaml:11 tiering.tiers[2].min_score: the last tier takes every dealer below the others: "
        "leave out its min_score"]
    assert errors_of(TIERING.replace("{name: key, min_score: 60}", "{name: key}")) == [
        "rules/tiering.yaml:10 tiering.tiers[1]: tier 'key' needs a min_score (only the last tier has none)"]


def test_overrides_and_tags_are_checked():
    text = TIERING + ("  overrides:\n"
                      "    - {name: lift, from: [normall], when: terminal_stores >= 3, to: key}\n"
                      "    - {name: lift, when: terminal_store >= 3, to: normal}\n"
                      "    - {name: same, from: [key], when: terminal_stores >= 3, to: key}\n"
                      "  tags:\n    rules:\n      - {tag: big, when: purchases >= 1000000}\n"
                      "      - {tag: big, when: purchases >= 5}\n      - {tag: rural_market, when: growth > 1}\n"
                      "    manual: [rural_market]\n"
                      "  approval: {downgrade_from: [cor], role: hq, sla: 1d}\n")
    assert errors_of(text) == [
        "rules/tiering.yaml:13 tiering.overrides[0].from[0]: unknown tier 'normall' — did you mean 'normal'? "
        "(tiers: core, key, normal)",
        "rules/tiering.yaml:14 tiering.overrides[1].name: duplicate override name 'lift' (also on line 13)",
        "rules/tiering.yaml:14 tiering.overrides[1].when: unknown fact 'terminal_store' — did you mean "
        "'terminal_stores'? (declared: ack_on_time_rate, category_share, dealer.channel, dealer.code, "
        "dealer.credit_points, dealer.level, dealer.region, dealer.tags, dealer.tier, growth, order_growth_m1, "
        "order_growth_m2, order_growth_m3, policies_due, prior_purchases, purchases, purchases_rank_in_region, "
        "rating_rate, requests_closed, satisfaction_share, score, task_completion_rate, tasks_due, terminal_stores, "
        "top_category)",
        "rules/tiering.yaml:15 tiering.overrides[2].to: an override from key to key changes nothing",
        "rules/tiering.yaml:19 tiering.tags.rules[1].tag: tag 'big' already has a rule on line 18: "
        "join the conditions with `or`",
        "rules/tiering.yaml:20 tiering.tags.rules[2].tag: tag 'rural_market' is listed as manual: people set it, "
        "a rule may not",
        "rules/tiering.yaml:22 tiering.approval.downgrade_from[0]: unknown tier 'cor' — did you mean 'core'? "
        "(tiers: core, key, normal)"]


def test_silence_is_a_period_and_actions_go_by_tag():
    base = TIERING + "  silent:\n    after: {after}\n    task: {role: account_manager, sla: 5s}\n"
    assert Scorecard(base.replace("{after}", "6 months")).spec.silent_after == ("months", 6)
    assert Scorecard(base.replace("{after}", "1 month")).spec.silent_after == ("months", 1)
    assert Scorecard(base.replace("{after}", "30s")).spec.silent_after == ("seconds", 30)
    assert errors_of(base.replace("{after}", "half a year")) == [
        "rules/tiering.yaml:13 tiering.silent.after: 'half a year' is not a period like 6 months, 180d or 30s"]
    spec = Scorecard(base.replace("{after}", "5s") + "    actions: {default: [Call], rural_market: [Visit, Call]}\n").spec
    assert spec.actions_for({"rural_market"}) == ["Call", "Visit"] and spec.actions_for(set()) == ["Call"]


def test_tiering_tests_give_figures_or_a_score_and_expect_tiers():
    text = TIERING + ("tests:\n  - name: t\n    given: {growth: \"0.5\", score: 80}\n"
                      "    expect: {tier: core, tiers: [core], score: eighty, tags: window}\n")
    assert errors_of(text) == [
        "rules/tiering.yaml:14 tests[0].given.growth: 'growth' is derived from purchases and prior_purchases; "
        "give those instead",
        "rules/tiering.yaml:15 tests[0].expect.score: expected a score like 80.00, got 'eighty'",
        "rules/tiering.yaml:15 tests[0].expect.tags: expected a list of tags, got 'window'",
        "rules/tiering.yaml:15 tests[0].expect.tiers: unknown expectation 'tiers' — did you mean 'tier'? "
        "(expected one of: tier, scored_tier, override, tags, score)"]
    failing = TIERING + "tests:\n  - name: t\n    given: {score: \"79.99\"}\n    expect: {tier: core}\n"
    [result] = run_rule_tests(load_rule_file("t.yaml", failing))
    assert not result.passed and result.message == "expected tier=core, got key (score 79.99 reaches key (60))"


def test_a_tiering_file_has_no_rules_and_other_files_no_tiering():
    assert errors_of(TIERING + "rules: []\n") == [
        "rules/tiering.yaml:12 rules: 'rules' does not belong in a tiering file"]
    policy = (ROOT / "rules" / "policies" / "new_door_training.yaml").read_text()
    with pytest.raises(RuleFileError, match="tiering: 'tiering' does not belong in a policy file"):
        load_rule_file("p.yaml", policy + "tiering: {}\n")


def test_tier_titles_and_benefits_may_be_given_in_both_languages():
    text = TIERING.replace("    - {name: core, min_score: 80, benefits: [New products first]}",
                           "    - {name: core, title: {zh: 核心, en: Core}, min_score: 80,\n"
                           "       benefits: [{zh: 新品优先试销, en: New products first}, Weekly calls]}")
    core = load_rule_file("t.yaml", text).spec.tier("core")
    assert (core.title, core.benefits) == ("Core", ("New products first", "Weekly calls"))
    assert core.title_in("zh_CN") == "核心" and core.benefits_in("zh") == ("新品优先试销", "Weekly calls")
    assert core.title_in("en") == "Core" and core.benefits_in("en") == ("New products first", "Weekly calls")
    plain = load_rule_file("t.yaml", TIERING).spec.tier("core")  # plain texts: the same in both languages
    assert plain.title_in("zh") == "core" and plain.benefits_in("zh") == ("New products first",)
    bad = TIERING.replace("benefits: [New products first]", "benefits: [{zh: 新品优先试销}]")
    assert errors_of(bad) == ["rules/tiering.yaml:9 tiering.tiers[0].benefits[0]: missing required key 'en'"]


def test_the_shipped_tiering_file_names_its_tiers_in_both_languages():
    spec = load_rule_file(ROOT / "rules" / "tiering.yaml").spec
    assert [(t.title_in("zh"), t.title_in("en")) for t in spec.tiers] == [
        ("核心", "Core"), ("重点培育", "Key cultivation"), ("普通", "Normal")]
    assert all(len(t.benefits_in("zh")) == len(t.benefits_in("en")) > 0 for t in spec.tiers)
