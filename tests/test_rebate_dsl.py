"""Rebate files: the `rebate:` section validated with file:line errors, eligibility, brackets and extras
decided by the engine in one call per dealer, and the money computed exactly."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import (Figures, FactError, RebateSpec, RuleFileError, accrue, compile_rule_file, load_rule_file,
                          run_rule_tests)
from policies_dsl.kinds.rebate import Bracket

REBATE = """\
ruleset: trial
kind: rebate
rebate:
  title: Trial
  measure: {measure}
  period: quarter
  interim: {interim}
  eligible: {eligible}
  basis: {basis}
  brackets:
{brackets}
  settlement:
    confirm_within: 5d
    disputes: {role: finance, sla: 2d}
    approval: {role: finance, sla: 2d}
"""
LADDER = ("    - {from: 0, rate: 0%}\n"
          "    - {from: 100000, rate: 1%}\n"
          "    - {from: 200000, rate: 2%}\n")
DEALER = {"dealer.level": 1, "dealer.tags": []}


def rebate(measure="net_delivered_amount", interim="month", eligible="dealer.level == 1", basis="retroactive",
           brackets=LADDER, extra="") -> str:
    return (REBATE.replace("{measure}", measure).replace("{interim}", interim).replace("{eligible}", eligible)
            .replace("{basis}", basis).replace("{brackets}", brackets.rstrip("\n")) + extra)


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/rebates/trial.yaml", text)
    return [str(x) for x in e.value.errors]


class Program:
    def __init__(self, text: str):
        self.rule_file = load_rule_file("t.yaml", text)
        self.ruleset = compile_rule_file(self.rule_file, 1)
        self.spec: RebateSpec = self.rule_file.spec

    def __call__(self, measure, prior=0, anniversary=0, points=0, paid_before="0", **dealer):
        figures = Figures({**DEALER, **dealer}, measure, prior, anniversary, points, Decimal(paid_before))
        return accrue(self.ruleset, self.spec, figures)

    def rebate(self, measure, **kw) -> str:
        return f"{self(measure, **kw).rebate:.2f}"


# --- the shipped files ---------------------------------------------------------------------------

def test_the_shipped_rebates_validate_and_pass_their_tests():
    paths = sorted((ROOT / "rules" / "rebates").glob("*.yaml"))
    assert [p.name for p in paths] == ["quarterly_volume.yaml", "window_specialist_quantity.yaml"]
    for path in paths:
        rule_file = load_rule_file(path)
        assert rule_file.kind == "rebate" and rule_file.spec.id == rule_file.name
        results = run_rule_tests(rule_file)
        assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_the_quarterly_spec_is_exact():
    spec = load_rule_file(ROOT / "rules" / "rebates" / "quarterly_volume.yaml").spec
    assert spec.brackets[2] == Bracket(3, Decimal("600000"), Decimal("0.02"), None)
    assert (spec.measure, spec.period, spec.interim, spec.basis, spec.category) == (
        "amount", "quarter", "month", "retroactive", None)
    assert (spec.cap, spec.growth_over, spec.growth_rate, spec.anniversary_years, spec.anniversary_rate) == (
        Decimal("80000.00"), Decimal("0.5"), Decimal("0.01"), (3,), Decimal("0.03"))
    assert (spec.point_value, spec.second_over, spec.second_role, spec.second_sla_seconds) == (
        Decimal("0.10"), Decimal("200000.00"), "hq", 2 * 86400)
    assert (spec.confirm_seconds, spec.dispute_role, spec.approval_role) == (5 * 86400, "finance", "finance")
    window = load_rule_file(ROOT / "rules" / "rebates" / "window_specialist_quantity.yaml").spec
    assert (window.measure, window.category, window.period, window.basis, window.second_over) == (
        "quantity", "window", "year", "incremental", None)


def test_derived_rules_are_evaluated_by_the_engine():
    program = Program(rebate(extra="  extras:\n    growth: {over: 50%, rate: 1%}\n"
                                   "    anniversary: {years: [3, 5], rate: 2%}\n"))
    assert [(r.name, r.when) for r in program.rule_file.rules] == [
        ("eligible", "dealer.level == 1"), ("bracket-1", "measure >= 0"), ("bracket-2", "measure >= 100000"),
        ("bracket-3", "measure >= 200000"), ("growth", "growth > 0.5"), ("anniversary", "anniversary in [3, 5]")]
    assert program.rule_file.default == {"eligible": False}
    decision = program.ruleset.decide({**DEALER, "measure": "100000.00", "prior_measure": "0", "growth": "0.6",
                                       "anniversary": 5, "points": 0})
    assert decision.outcome == {"eligible": True}
    assert [m["name"] for m in decision.matched] == ["eligible", "bracket-1", "bracket-2", "growth", "anniversary"]


def test_one_engine_call_per_dealer():
    program = Program(rebate())
    calls = []
    decide = program.ruleset.decide
    program.ruleset.decide = lambda facts: calls.append(facts) or decide(facts)
    program("150000.00")
    assert len(calls) == 1 and calls[0]["growth"] == Decimal(0)


# --- the ladder ----------------------------------------------------------------------------------

def test_retroactive_pays_the_whole_measure_at_the_bracket_reached():
    program = Program(rebate())
    assert program.rebate("99999.99") == "0.00" and program("99999.99").bracket == 1
    assert program.rebate("100000.00") == "1000.00" and program("100000.00").bracket == 2
    assert program.rebate("199999.99") == "2000.00"  # 1999.9999, rounded half up once
    assert program.rebate("200000.00") == "4000.00"
    accrual = program("250000.00")
    assert accrual.explanation["bracket"] == {"index": 3, "from": "200000", "rate": "2%"}
    assert accrual.explanation["ladder"] == [{"bracket": 3, "base": "250000.00", "rate": "2%", "amount": "5000.00"}]
    assert accrual.explanation["reason"] == "bracket 3 (from 200000, 2%) on 250000.00 = 5000.00"


def test_incremental_pays_each_slice_at_its_own_rate():
    program = Program(rebate(basis="incremental"))
    assert program.rebate("99999.99") == "0.00"
    assert program.rebate("100000.00") == "0.00"  # the 1% slice is empty exactly at its threshold
    assert program.rebate("199999.99") == "1000.00"  # 999.9999
    assert program.rebate("200000.00") == "1000.00"
    accrual = program("250000.00")
    assert (accrual.bracket, accrual.earned) == (3, Decimal("2000.00"))
    assert accrual.explanation["ladder"][1:] == [
        {"bracket": 2, "from": "100000.00", "to": "200000.00", "base": "100000.00", "rate": "1%", "amount": "1000.00"},
        {"bracket": 3, "from": "200000.00", "to": "250000.00", "base": "50000.00", "rate": "2%", "amount": "1000.00"}]
    assert accrual.explanation["reason"] == (
        "incremental to bracket 3: 0.00–100000.00 at 0% = 0.00, 100000.00–200000.00 at 1% = 1000.00, "
        "200000.00–250000.00 at 2% = 1000.00")


def test_below_the_first_bracket_nothing_is_earned():
    program = Program(rebate(brackets="    - {from: 100000, rate: 1%}\n"))
    accrual = program("99999.99")
    assert (accrual.eligible, accrual.bracket, accrual.rebate) == (True, 0, Decimal("0.00"))
    assert accrual.explanation["reason"] == "no bracket reached: 99999.99 is below 100000"
    assert program("-500.00").bracket == 0  # more returned than delivered


def test_fixed_amount_brackets():
    brackets = "    - {from: 0, rate: 1%}\n    - {from: 500000, amount: \"8000.00\"}\n"
    retroactive = Program(rebate(brackets=brackets))
    incremental = Program(rebate(brackets=brackets, basis="incremental"))
    assert retroactive.rebate("499999.99") == "5000.00"  # 4999.9999
    assert retroactive.rebate("500000.00") == "8000.00"  # the fixed sum replaces the rate
    assert retroactive("600000.00").explanation["reason"] == "bracket 2 (from 500000, fixed 8000.00) = 8000.00"
    assert incremental.rebate("600000.00") == "13000.00"  # 500000 at 1%, plus the fixed sum
    assert incremental("600000.00").explanation["ladder"][1] == {
        "bracket": 2, "from": "500000.00", "to": "600000.00", "base": None, "fixed": "8000.00", "amount": "8000.00"}


def test_quantity_measure_pays_fixed_sums_per_bracket():
    brackets = "    - {from: 100, amount: \"1000.00\"}\n    - {from: 250, amount: 1500.5}\n"
    retroactive = Program(rebate(measure="net_delivered_quantity", brackets=brackets))
    incremental = Program(rebate(measure="net_delivered_quantity", brackets=brackets, basis="incremental"))
    assert retroactive.rule_file.facts["measure"].type == "int"
    assert [retroactive.rebate(n) for n in (99, 100, 249, 250)] == ["0.00", "1000.00", "1000.00", "1500.50"]
    assert [incremental.rebate(n) for n in (99, 100, 249, 250)] == ["0.00", "1000.00", "1000.00", "2500.50"]
    assert incremental(300).explanation["figures"]["measure"] == 300
    with pytest.raises(FactError, match="fact 'measure': expected an integer, got '10.5'"):
        retroactive("10.5")


# --- extras, cap, interim runs, eligibility, points -----------------------------------------------

def test_growth_extra_starts_just_over_its_threshold():
    program = Program(rebate(extra="  extras:\n    growth: {over: 50%, rate: 1%}\n"))
    assert program("150000.00", prior="100000.00").extras == ()  # exactly 50%
    accrual = program("150000.01", prior="100000.00")
    assert accrual.extras == ("growth",) and accrual.rebate == Decimal("3000.00")  # 1500.0001 + 1500.0001
    assert accrual.explanation["extras"] == [{"name": "growth", "rate": "1%", "amount": "1500.0001"}]
    assert accrual.explanation["figures"]["growth"] == "0.500000"
    assert program("150000.00", prior="0").extras == ()  # no prior volume: no growth


def test_anniversary_extra_only_in_the_listed_years():
    program = Program(rebate(extra="  extras:\n    anniversary: {years: [3, 5], rate: 2%}\n"))
    assert [program(f"100000.00", anniversary=n).extras for n in (0, 2, 3, 4, 5)] == [
        (), (), ("anniversary",), (), ("anniversary",)]
    assert program("100000.00", anniversary=3).rebate == Decimal("3000.00")


def test_cap_limits_ladder_and_extras():
    program = Program(rebate(extra="  cap: \"4000.00\"\n  extras:\n    anniversary: {years: [3], rate: 1%}\n"))
    exactly = program("200000.00")
    assert (exactly.earned, exactly.capped) == (Decimal("4000.00"), False)
    over = program("200000.00", anniversary=3)
    assert (over.earned, over.capped, over.extras) == (Decimal("4000.00"), True, ("anniversary",))
    assert over.explanation["cap"] == {"limit": "4000.00", "applied": True, "before": "6000.00"}
    assert over.explanation["reason"] == ("bracket 3 (from 200000, 2%) on 200000.00 = 4000.00; "
                                          "anniversary extra 1% = 2000.00; capped at 4000.00")


def test_an_interim_run_pays_what_was_earned_less_what_was_paid():
    program = Program(rebate())
    assert program("150000.00", paid_before="1000.00").rebate == Decimal("500.00")
    clawback = program("150000.00", paid_before="2000.00")
    assert (clawback.earned, clawback.rebate) == (Decimal("1500.00"), Decimal("-500.00"))
    assert clawback.explanation["reason"] == ("bracket 2 (from 100000, 1%) on 150000.00 = 1500.00; "
                                              "earned 1500.00 less 2000.00 paid before = -500.00")
    with pytest.raises(FactError, match="fact 'paid_before'"):
        program("1.00", paid_before=Decimal("0.001"))


def test_an_ineligible_dealer_earns_nothing():
    program = Program(rebate(extra="  extras:\n    points: {per_point: \"0.10\"}\n"))
    accrual = program("250000.00", points=100, **{"dealer.level": 2})
    a = accrual
    assert (a.eligible, a.bracket, a.earned, a.rebate, a.capped, a.extras, a.points, a.points_amount) == (
        False, 0, Decimal("0.00"), Decimal("0.00"), False, (), 0, Decimal("0.00"))
    assert accrual.explanation["reason"] == "not eligible: dealer.level == 1 does not hold with dealer.level=2"
    # what interim runs paid while the dealer was eligible is taken back
    assert program("250000.00", paid_before="500.00", **{"dealer.level": 2}).rebate == Decimal("-500.00")
    json.dumps(accrual.explanation)


def test_points_are_paid_only_when_declared_and_eligible():
    assert Program(rebate())("0", points=120).points_amount == Decimal("0.00")
    program = Program(rebate(extra="  extras:\n    points: {per_point: 0.1}\n"))  # a YAML number, read exactly
    accrual = program("0", points=7)
    assert (accrual.points, accrual.points_amount, accrual.rebate) == (7, Decimal("0.70"), Decimal("0.00"))
    assert accrual.explanation["reason"] == "bracket 1 (from 0, 0%) on 0.00 = 0.00; 7 points at 0.10 = 0.70"


def test_money_written_as_yaml_numbers_stays_exact():
    spec = Program(rebate(brackets="    - {from: 0.10, amount: 0.30}\n", extra="  cap: 80000.07\n")).spec
    assert (spec.brackets[0].floor, spec.brackets[0].amount, spec.cap) == (
        Decimal("0.10"), Decimal("0.30"), Decimal("80000.07"))


def test_a_failing_example_says_what_the_accrual_was():
    text = rebate() + ("tests:\n  - name: t\n    given: {measure: \"150000.00\", dealer.level: 1}\n"
                       "    expect: {rebate: \"1499.00\", extras: []}\n")
    [result] = run_rule_tests(load_rule_file("t.yaml", text))
    assert not result.passed and result.line == 19
    assert result.message == "expected rebate=1499.00, got 1500.00 (bracket 2 (from 100000, 1%) on 150000.00 = 1500.00)"


# --- errors --------------------------------------------------------------------------------------

def test_unknown_keys_and_bad_values_name_file_line_and_path():
    assert errors_of(rebate(extra="  caps: \"100.00\"\n")) == [
        "rules/rebates/trial.yaml:18 rebate.caps: unknown key 'caps' — did you mean 'cap'? (expected one of: title, "
        "measure, category, period, interim, eligible, basis, brackets, cap, extras, settlement)"]
    assert errors_of(rebate(brackets="    - {from: 0, rate: 120%}\n")) == [
        "rules/rebates/trial.yaml:11 rebate.brackets[0].rate: '120%' is not a share like 2% or 12.5% (0% to 100%)"]
    assert errors_of(rebate(brackets="    - {from: -1, amount: \"1.005\"}\n")) == [
        "rules/rebates/trial.yaml:11 rebate.brackets[0].amount: '1.005' is not an amount like 5000.00",
        "rules/rebates/trial.yaml:11 rebate.brackets[0].from: -1 is less than the minimum of 0"]
    assert errors_of(rebate(brackets="    - {from: 0.001, amount: 1.005}\n")) == [
        "rules/rebates/trial.yaml:11 rebate.brackets[0].amount: expected an amount with at most 2 decimals, got 1.005",
        "rules/rebates/trial.yaml:11 rebate.brackets[0].from: expected an amount with at most 2 decimals, got 0.001"]
    assert errors_of(rebate(basis="retro")) == [
        "rules/rebates/trial.yaml:9 rebate.basis: 'retro' is not allowed — did you mean 'retroactive'? "
        "(expected one of: retroactive, incremental)"]


def test_brackets_must_rise_and_pay_one_way():
    brackets = ("    - {from: 0, rate: 0%}\n"
                "    - {from: 300000, rate: 1%, amount: \"10.00\"}\n"
                "    - {from: 300000}\n")
    assert errors_of(rebate(brackets=brackets)) == [
        "rules/rebates/trial.yaml:12 rebate.brackets[1]: give either rate (a share of the measure) or amount "
        "(a fixed sum), not both or neither",
        "rules/rebates/trial.yaml:13 rebate.brackets[2]: give either rate (a share of the measure) or amount "
        "(a fixed sum), not both or neither",
        "rules/rebates/trial.yaml:13 rebate.brackets[2].from: brackets must rise: 300000 is not above 300000 (line 12)"]


def test_interim_runs_are_shorter_than_the_period():
    assert errors_of(rebate(interim="quarter")) == [
        "rules/rebates/trial.yaml:7 rebate.interim: interim runs must be shorter than the period: "
        "a quarter is not shorter than a quarter"]
    assert errors_of(rebate(interim="year")) == [
        "rules/rebates/trial.yaml:7 rebate.interim: 'year' is not allowed (expected one of: month, quarter)"]


def test_eligibility_reads_dealer_facts_only():
    assert errors_of(rebate(eligible="dealer.levl == 1")) == [
        "rules/rebates/trial.yaml:8 rebate.eligible: unknown fact 'dealer.levl' — did you mean 'dealer.level'? "
        "(declared: dealer.channel, dealer.code, dealer.credit_points, dealer.level, dealer.region, dealer.tags, "
        "dealer.tier, dealer.years)"]
    assert errors_of(rebate(eligible="measure > 0")) == [
        "rules/rebates/trial.yaml:8 rebate.eligible: unknown fact 'measure' (declared: dealer.channel, dealer.code, "
        "dealer.credit_points, dealer.level, dealer.region, dealer.tags, dealer.tier, dealer.years)"]
    assert Program(rebate(eligible="dealer.years >= 2"))("1.00", **{"dealer.years": 2}).eligible


def test_quantity_measures_take_fixed_sums_and_no_share_extras():
    text = rebate(measure="net_delivered_quantity", brackets="    - {from: 10.5, rate: 1%}\n",
                  extra="  extras:\n    growth: {over: 10%, rate: 1%}\n")
    assert errors_of(text) == [
        "rules/rebates/trial.yaml:11 rebate.brackets[0].from: expected a whole number of units, got 10.5",
        "rules/rebates/trial.yaml:11 rebate.brackets[0].rate: a quantity measure pays fixed sums: give amount, not rate",
        "rules/rebates/trial.yaml:17 rebate.extras.growth: the growth extra pays a share of the measure: "
        "it needs measure net_delivered_amount"]


def test_anniversary_years_are_listed_once():
    assert errors_of(rebate(extra="  extras:\n    anniversary: {years: [3, 5, 3], rate: 1%}\n")) == [
        "rules/rebates/trial.yaml:19 rebate.extras.anniversary.years[2]: year 3 is listed twice"]


def test_rebate_tests_give_figures_and_expect_accruals():
    text = rebate(extra="  extras:\n    growth: {over: 50%, rate: 1%}\n") + (
        "tests:\n"
        "  - name: t\n"
        "    given: {measure: \"1.00\", growth: \"0.6\", dealer.level: 1}\n"
        "    expect: {rebates: \"1.00\", rule: eligible, bracket: two, earned: 1.005}\n")
    assert errors_of(text) == [
        "rules/rebates/trial.yaml:22 tests[0].given: missing fact 'prior_measure' (a test gives every fact the rules read)",
        "rules/rebates/trial.yaml:22 tests[0].given.growth: 'growth' is derived from measure and prior_measure; "
        "give those instead",
        "rules/rebates/trial.yaml:23 tests[0].expect.bracket: expected an integer, got 'two'",
        "rules/rebates/trial.yaml:23 tests[0].expect.earned: expected an amount like 12000.00, got 1.005",
        "rules/rebates/trial.yaml:23 tests[0].expect.rebates: unknown expectation 'rebates' — did you mean 'rebate'? "
        "(expected one of: eligible, bracket, rebate, earned, capped, extras, points_amount)",
        "rules/rebates/trial.yaml:23 tests[0].expect.rule: unknown expectation 'rule' (expected one of: eligible, "
        "bracket, rebate, earned, capped, extras, points_amount)"]


def test_a_rebate_file_has_no_rules_and_other_files_no_rebate():
    assert errors_of(rebate() + "rules: []\n") == [
        "rules/rebates/trial.yaml:18 rules: 'rules' does not belong in a rebate file"]
    assert errors_of(rebate().replace("  basis: retroactive\n", "")) == [
        "rules/rebates/trial.yaml:3 rebate: missing required key 'basis'"]
    policy = (ROOT / "rules" / "policies" / "new_door_training.yaml").read_text()
    with pytest.raises(RuleFileError, match="rebate: 'rebate' does not belong in a policy file"):
        load_rule_file("p.yaml", policy + "rebate: {}\n")
