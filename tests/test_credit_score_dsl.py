"""The credit scorecard file: the `credit_score:` section validated with file:line errors, the score
exact, ratings and overrides decided by the engine, the proposed limit and the approvals it needs,
at their edges."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import (CreditScoreSpec, RuleFileError, assess_credit, compile_rule_file, load_rule_file,
                          run_rule_tests)

CARD = """\
ruleset: trial_credit
kind: credit_score
credit_score:
  dimensions:
    - {key: late, weight: 80%, from: days_late, scale: [{at: 0, score: 100}, {at: 50, score: 0}], missing: 50}
    - {key: points, weight: 20%, from: dealer.credit_points, scale: [{at: 50, score: 0}, {at: 100, score: 100}]}
  ratings:
    - {name: A, min_score: 80, limit_months: 2}
    - {name: B, min_score: 50, limit_months: 1}
    - {name: D, limit_months: 0}
  limit: {round_to: 1000}
  approval: {increase_over: 10000, second_over: 50000, role: credit_manager, sla: 1d}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/credit_score.yaml", text)
    return [str(x) for x in e.value.errors]


def assess(text: str = CARD, score=None, **given):
    rule_file = load_rule_file("c.yaml", text)
    spec: CreditScoreSpec = rule_file.spec
    dealer = {"dealer.credit_points": given.pop("points", 100), "dealer.tier": "normal",
              "dealer.credit_limit": Decimal(given.pop("limit", "0.00"))}
    return assess_credit(compile_rule_file(rule_file, 1), spec, dealer, given,
                         None if score is None else Decimal(score))


def test_the_shipped_file_validates_and_passes_its_tests():
    rule_file = load_rule_file(ROOT / "rules" / "credit_score.yaml")
    results = run_rule_tests(rule_file)
    assert len(results) >= 15 and all(r.passed for r in results), [r for r in results if not r.passed]
    spec = rule_file.spec
    assert [(r.name, r.min_score, spec.limit_months[r.name]) for r in spec.ratings] == [
        ("A", 80, 3), ("B", 65, 2), ("C", 45, 1), ("D", None, 0)]
    assert (spec.increase_over, spec.second_over, spec.approval_role) == (50000, 200000, "credit_manager")


def test_the_score_reads_figures_and_channel_signals_exactly():
    a = assess(days_late=Decimal("10"), points=90)  # 80% × 80 + 20% × 80
    assert a.score == Decimal("80.00") and a.rating == "A"
    assert [d["key"] for d in a.explanation["dimensions"]] == ["late", "points"]
    assert a.explanation["figures"]["dealer.credit_points"] == 90
    b = assess(days_late=Decimal("10.01"), points=90)  # one hundredth of a day later: 79.98
    assert b.score == Decimal("79.98") and b.rating == "B"
    assert assess().score == Decimal("60.00")  # nothing paid yet: `missing` 50, points 100


def test_the_limit_follows_the_rating_and_names_its_approvals():
    a = assess(score="80", monthly_purchases=Decimal("5999.99"), limit="2000.00")
    assert (a.limit, a.change, a.approvals) == (Decimal("11000.00"), Decimal("9000.00"), 0)
    assert "monthly purchases 5,999.99 × 2 months (rating A) = 11,999.98, rounded down to 11,000.00" \
        in a.explanation["reason"]
    assert assess(score="80", monthly_purchases=Decimal("6000"), limit="2000.00").approvals == 0  # exactly 10,000 up
    assert assess(score="80", monthly_purchases=Decimal("6000"), limit="1999.99").approvals == 1
    assert assess(score="80", monthly_purchases=Decimal("25000"), limit="0").approvals == 1  # exactly 50,000 up
    assert assess(score="80", monthly_purchases=Decimal("25500"), limit="0").approvals == 2
    down = assess(score="49.99", monthly_purchases=Decimal("25500"), limit="90000.00")
    assert (down.rating, down.limit, down.change, down.approvals) == ("D", Decimal("0.00"), Decimal("-90000.00"), 0)
    assert "applies at once" in down.explanation["reason"]


def test_section_errors_name_the_file_line_and_path():
    assert errors_of(CARD.replace("weight: 20%", "weight: 25%")) == [
        "rules/credit_score.yaml:4 credit_score.dimensions: the weights add up to 105%, not 100% (late 80% + points 25%)"]
    assert errors_of(CARD.replace("from: days_late", "from: days_lat"))[0].startswith(
        "rules/credit_score.yaml:5 credit_score.dimensions[0].from: unknown figure 'days_lat' — did you mean 'days_late'?")
    assert errors_of(CARD.replace("{name: B, min_score: 50", "{name: B, min_score: 80")) == [
        "rules/credit_score.yaml:9 credit_score.ratings[1].min_score: ratings go from the highest score down: "
        "80 is not below 80 (line 8)"]
    assert errors_of(CARD.replace("{name: B, min_score: 50, ", "{name: B, ")) == [
        "rules/credit_score.yaml:9 credit_score.ratings[1]: rating 'B' needs a min_score (only the last rating has none)"]
    assert errors_of(CARD.replace("second_over: 50000", "second_over: 9999")) == [
        "rules/credit_score.yaml:12 credit_score.approval.second_over: the second approval starts above the first: "
        "9999 is below increase_over 10000"]
    assert errors_of(CARD.replace("round_to: 1000", "round_to: 0")) == [
        "rules/credit_score.yaml:11 credit_score.limit.round_to: round to an amount above 0, e.g. 1000"]
    assert errors_of(CARD.replace("{name: D,", "{name: d,"))[0].startswith(
        "rules/credit_score.yaml:10 credit_score.ratings[2].name: 'd' is not a rating: one capital letter")


def test_overrides_name_known_ratings_and_facts():
    text = CARD + ("  overrides:\n"
                   "    - {name: late, when: overdue_days > 90, to: E}\n"
                   "    - {name: core, from: [B], when: dealer.tir == \"core\", to: A}\n")
    errors = errors_of(text)
    assert errors[0] == "rules/credit_score.yaml:14 credit_score.overrides[0].to: unknown rating 'E' (ratings: A, B, D)"
    assert errors[1].startswith("rules/credit_score.yaml:15 credit_score.overrides[1].when: unknown fact 'dealer.tir'")
    ok = CARD + "  overrides:\n    - {name: late, when: overdue_days > 90, to: D}\n"
    assert assess(ok, score="99", overdue_days=91).rating == "D"
    assert assess(ok, score="99", overdue_days=90).rating == "A"


def test_a_test_expecting_the_wrong_rating_fails_with_the_reason():
    text = CARD + "tests:\n  - {name: edge, given: {score: \"80.00\"}, expect: {rating: B, approvals: 3}}\n"
    assert errors_of(text) == [
        "rules/credit_score.yaml:14 tests[0].expect.approvals: expected 0, 1 or 2 approvals, got 3"]
    results = run_rule_tests(load_rule_file("c.yaml", CARD + "tests:\n  - {name: edge, given: {score: \"80.00\"},"
                                                              " expect: {rating: B}}\n"))
    assert not results[0].passed
