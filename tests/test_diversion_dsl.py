"""Diversion files: the `diversion:` section validated with file:line errors, triggers turned into
rules at their thresholds, and one engine call per trigger assessing severity and penalty."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import RuleFileError, assess, compile_rule_file, load_rule_file, run_rule_tests

SHIPPED = ROOT / "rules" / "diversion.yaml"
FILE = """\
ruleset: trial
kind: diversion
diversion:
  triggers:
    out_of_region: {severity: medium}
    price: {under_guide_by: 25%, severity: medium}
    stock_up: {over_own_average: 2.5, min_units: 10, window: 30d, trailing: 90d, severity: low}
  escalate:
    - {name: big-dealer, when: 'dealer.tier == "core"', severity: high}
  investigation: {role: hq, sla: 2d, escalate_to: admin}
  penalties:
    points: {low: 5, medium: 10, high: 20}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/diversion.yaml", text)
    return [str(x) for x in e.value.errors]


def assessed(text: str, **facts):
    rule_file = load_rule_file("t.yaml", text)
    return assess(compile_rule_file(rule_file, 1), rule_file.spec, {"dealer.tier": "normal", **facts})


def test_the_shipped_file_validates_and_passes_its_tests():
    rule_file = load_rule_file(SHIPPED)
    results = run_rule_tests(rule_file)
    assert len(results) == 16 and all(r.passed for r in results), [r for r in results if not r.passed]
    spec = rule_file.spec
    assert spec.trigger("price").under_guide_by == Decimal("0.2")
    assert (spec.trigger("regional_excess").over, spec.trigger("regional_excess").min_units) == (Decimal(2), 50)
    stock = spec.trigger("stock_up")
    assert (stock.over, stock.window_seconds, stock.trailing_seconds) == (Decimal(3), 30 * 86400, 90 * 86400)
    assert (spec.investigation_role, spec.investigation_sla_seconds) == ("hq", 3 * 86400)
    assert spec.penalties == {"low": 5, "medium": 10, "high": 20}
    assert (spec.earn_back_points, spec.earn_back_up_to) == (5, 100)
    assert [r.name for r in rule_file.rules] == ["out-of-region", "price", "regional-excess", "stock-up",
                                                 "unknown-code", "signed-outside-region", "bulk-diversion", "deep-discount", "repeat-offender"]


def test_triggers_become_rules_at_their_thresholds():
    rules = {r.name: r.when for r in load_rule_file("t.yaml", FILE).rules}
    assert rules == {
        "out-of-region": 'alert.trigger == "out_of_region"',
        "price": 'alert.trigger == "price" and alert.price_gap > 0.25',
        "stock-up": 'alert.trigger == "stock_up" and alert.ratio > 2.5 and alert.units >= 10',
        "big-dealer": 'dealer.tier == "core"'}


def test_one_call_decides_an_alert_its_severity_and_penalty():
    held = assessed(FILE, **{"alert.trigger": "stock_up", "alert.ratio": "2.51", "alert.units": 10})
    assert (held.alert, held.severity, held.penalty) == (True, "low", 5)
    assert held.reason == "rule 'stock-up' matched: stock_up alert, low; a confirmed case costs 5 credit points"
    raised = assessed(FILE, **{"alert.trigger": "stock_up", "alert.ratio": "9", "alert.units": 10,
                               "dealer.tier": "core"})
    assert (raised.severity, raised.penalty) == ("high", 20) and "raised to high by 'big-dealer'" in raised.reason
    below = assessed(FILE, **{"alert.trigger": "stock_up", "alert.ratio": "2.5", "alert.units": 500})
    assert (below.alert, below.severity, below.penalty) == (False, None, 0)
    assert below.reason == ('no alert: alert.trigger == "stock_up" and alert.ratio > 2.5 and alert.units >= 10 '
                            'does not hold with alert.trigger=stock_up, alert.ratio=2.5, alert.units=500')
    off = assessed(FILE, **{"alert.trigger": "unknown_code"})
    assert not off.alert and off.reason == "the unknown_code trigger is not in trial v1: no alert"


def test_thresholds_and_penalties_are_checked_with_file_and_line():
    bad = (FILE.replace("25%", "0%").replace("over_own_average: 2.5", "over_own_average: 0")
           .replace("window: 30d, trailing: 90d", "window: 36h, trailing: 1d")
           .replace("{low: 5, medium: 10, high: 20}", "{low: 5, medium: 30, high: 20}"))
    assert errors_of(bad) == [
        "rules/diversion.yaml:6 diversion.triggers.price.under_guide_by: give a share above 0% and below 100%",
        "rules/diversion.yaml:7 diversion.triggers.stock_up.over_own_average: give a factor above 0, e.g. 2 for"
        " twice the average",
        "rules/diversion.yaml:7 diversion.triggers.stock_up.trailing: the trailing span must be at least the window"
        " (36h)",
        "rules/diversion.yaml:7 diversion.triggers.stock_up.window: give whole days, like 30d, not '36h'",
        "rules/diversion.yaml:12 diversion.penalties.points: a more severe case must cost at least as many points:"
        " low 5, medium 30, high 20"]


def test_schema_errors_name_the_key():
    assert errors_of(FILE.replace("under_guide_by: 25%", "under_guide_by: 125%")) == [
        "rules/diversion.yaml:6 diversion.triggers.price.under_guide_by: '125%' is not a share like 2% or 12.5%"
        " (0% to 100%)"]
    assert errors_of(FILE.replace("stock_up:", "stock_upp:")) == [
        "rules/diversion.yaml:7 diversion.triggers.stock_upp: unknown key 'stock_upp' — did you mean 'stock_up'?"
        " (expected one of: out_of_region, price, regional_excess, stock_up, unknown_code, signed_outside_region)"]
    assert errors_of(FILE.replace("severity: low}", "severity: critical}")) == [
        "rules/diversion.yaml:7 diversion.triggers.stock_up.severity: 'critical' is not allowed (expected one of:"
        " low, medium, high)"]
    assert errors_of(FILE.replace("  investigation: {role: hq, sla: 2d, escalate_to: admin}\n", "")) == [
        "rules/diversion.yaml:3 diversion: missing required key 'investigation'"]
    assert errors_of(FILE + "rules: []\n") == ["rules/diversion.yaml:13 rules: 'rules' does not belong in a"
                                               " diversion file"]


def test_escalation_rules_are_conditions_over_the_kinds_facts():
    typo = FILE.replace('dealer.tier == "core"', "dealer.confirmed_case >= 2")
    assert errors_of(typo)[0].startswith(
        "rules/diversion.yaml:9 diversion.escalate[0].when: unknown fact 'dealer.confirmed_case' — did you mean"
        " 'dealer.confirmed_cases'?")
    twice = FILE.replace("name: big-dealer", "name: price")
    assert errors_of(twice) == ["rules/diversion.yaml:9 diversion.escalate[0].name: duplicate rule name 'price'"
                                " (also on line 6)"]
    points = FILE.replace('dealer.tier == "core"', "dealer.credit_points < 80")
    low = assessed(points, **{"alert.trigger": "out_of_region", "dealer.credit_points": 79})
    assert low.severity == "high"


def test_rule_file_tests_leave_out_figures_and_name_wrong_expectations():
    tests = FILE + """tests:
  - name: at the share
    given: {alert.trigger: price, alert.price_gap: "0.25", dealer.tier: normal}
    expect: {alert: false}
  - name: past the share
    given: {alert.trigger: price, alert.price_gap: "0.2501", dealer.tier: normal}
    expect: {alert: true, severity: medium, penalty: 10}
  - name: wrong
    given: {alert.trigger: out_of_region, dealer.tier: normal}
    expect: {severity: high}
"""
    results = run_rule_tests(load_rule_file("t.yaml", tests))
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].message.startswith("expected severity=high, got medium (rule 'out-of-region' matched")
    wrong = tests.replace("expect: {severity: high}", "expect: {severity: severe, points: 3}")
    assert errors_of(wrong) == [
        "rules/diversion.yaml:22 tests[2].expect.points: unknown expectation 'points' (expected one of: alert,"
        " severity, penalty)",
        "rules/diversion.yaml:22 tests[2].expect.severity: expected one of low, medium, high, got 'severe'"]
    missing = tests.replace("alert.trigger: out_of_region, dealer.tier: normal", "alert.trigger: out_of_region")
    assert errors_of(missing) == ["rules/diversion.yaml:21 tests[2].given: missing fact 'dealer.tier' (a test gives"
                                  " every fact the rules read)"]
