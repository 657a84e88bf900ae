"""Allocation files (`kind: allocation`): what an order gets when stock is short, and its supply
priority. Validated with file:line errors; decided with bilingual reasons; tests at the edges."""
from __future__ import annotations

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import RuleFileError, compile_rule_file, load_rule_file, run_rule_tests
from policies_dsl.kinds.allocation import with_defaults

SHIPPED = ROOT / "rules" / "allocation.yaml"
FILE = """\
ruleset: allocation
kind: allocation
facts:
  dealer.tier: {type: string}
  dealer.credit_points: {type: int}
  order.short_units: {type: int}
rules:
  - name: core-first
    priority: 10
    when: dealer.tier == "core"
    then: {allocate: backorder, priority: 90, reason: {zh: 核心经销商优先, en: core dealers first}}
  - name: big-shortage
    priority: 20
    when: order.short_units >= 100
    then: {allocate: review, priority: 10, task: {role: hq, sla: 8h}}
default: {allocate: backorder, priority: 40}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/allocation.yaml", text)
    return [str(x) for x in e.value.errors]


def decide(text: str, **facts):
    ruleset = compile_rule_file(load_rule_file("rules/allocation.yaml", text), 1)
    return ruleset.decide(with_defaults(ruleset, facts))


def test_the_shipped_file_validates_and_passes_its_tests():
    results = run_rule_tests(load_rule_file(SHIPPED))
    assert len(results) == 9 and all(r.passed for r in results), [r for r in results if not r.passed]


def test_a_decision_gives_the_action_the_priority_and_its_reason_in_both_languages():
    d = decide(FILE, **{"dealer.tier": "core", "order.short_units": 99})
    assert (d.outcome["allocate"], d.outcome["priority"], d.rule) == ("backorder", 90, "core-first")
    assert d.reason.startswith("core dealers first — rule 'core-first'")
    assert d.reason_zh.startswith("核心经销商优先 — ")
    edge = decide(FILE, **{"dealer.tier": "core", "order.short_units": 100})  # the larger priority wins
    assert (edge.outcome["allocate"], edge.rule) == ("review", "big-shortage")
    assert decide(FILE, **{"dealer.tier": "normal", "order.short_units": 1}).rule == "default"
    # Facts the file does not declare are not passed to it; those it declares and are missing take defaults.
    assert decide(FILE, **{"dealer.level": 2}).outcome["priority"] == 40


@pytest.mark.parametrize("change, message", [
    (("{allocate: review, priority: 10, task: {role: hq, sla: 8h}}", "{allocate: review, priority: 10}"),
     "rules/allocation.yaml:15 rules[1].then: a `review` allocation needs a `task` naming who reviews"),
    ("default: {allocate: backorder, priority: 40}",
     "rules/allocation.yaml:16 default.task: only a `review` allocation opens a task, not `backorder`"),
    (("priority: 90,", "priority: 1001,"), "rules/allocation.yaml:11 rules[0].then.priority"),
    (("priority: 90,", "priority: -1,"), "rules/allocation.yaml:11 rules[0].then.priority"),
    (("allocate: backorder, priority: 90", "allocate: hold, priority: 90"), "rules/allocation.yaml:11 rules[0].then.allocate"),
    (("  order.short_units: {type: int}", "  order.short_units: {type: int}\n  order.colour: {type: string}"),
     "facts.order.colour: the platform supplies no fact 'order.colour' to allocation rules"),
    (("dealer.credit_points: {type: int}", "dealer.credit_points: {type: money}"),
     "rules/allocation.yaml:5 facts.dealer.credit_points.type: 'dealer.credit_points' is of type int, not money"),
    (("when: dealer.tier == \"core\"", "when: dealer.rating == \"A\""), "rules/allocation.yaml:10 rules[0].when"),
])
def test_mistakes_are_named_by_file_line_and_path(change, message):
    if isinstance(change, tuple):
        text = FILE.replace(*change)
    else:  # a task on the default, which is no review
        text = FILE.replace(change, "default: {allocate: backorder, priority: 40, task: {role: hq, sla: 8h}}")
    assert text != FILE
    errors = errors_of(text)
    assert any(message in e for e in errors), errors


def test_tests_in_the_file_run_at_the_edges():
    text = FILE + """\
tests:
  - name: 99 short is not a review
    given: {order.short_units: 99}
    expect: {allocate: backorder, priority: 40, rule: default}
  - name: 100 short is
    given: {order.short_units: 100}
    expect: {allocate: review, rule: big-shortage}
  - name: a wrong expectation fails
    given: {dealer.tier: core}
    expect: {priority: 91}
"""
    results = run_rule_tests(load_rule_file("rules/allocation.yaml", text))
    assert [r.passed for r in results] == [True, True, False]
    assert "expected priority=91, got 90" in results[2].message
