"""Policy files: the `policy:` section validated with file:line errors, targeting over dealer facts
(sets included) evaluated by the engine, and the pilot's promotion rules."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import RuleFileError, compile_rule_file, load_rule_file, run_rule_tests

POLICY = """\
ruleset: trial
kind: policy
policy:
  title: Trial
  category: promotion
  body: text
  effective: {from: 2026-12-01, to: 2027-01-31}
  target: {target}
  acknowledgment: {ack}
"""
DEALER = {"dealer.code": "D1", "dealer.region": "east", "dealer.level": 1, "dealer.tier": "normal",
          "dealer.tags": ["window_specialist"], "dealer.channel": "retail"}


def policy(target='dealer.level == 1', ack="{required: true, deadline: 3d, reminders: [1d, 2d]}", extra=""):
    return POLICY.replace("{target}", target).replace("{ack}", ack) + extra


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/policies/trial.yaml", text)
    return [str(x) for x in e.value.errors]


def targeted(target: str, **facts) -> bool:
    ruleset = compile_rule_file(load_rule_file("t.yaml", policy(target=f"'{target}'")), 1)
    return ruleset.decide({**DEALER, **facts}).outcome["targeted"]


def test_the_shipped_policies_validate_and_pass_their_tests():
    for path in sorted((ROOT / "rules" / "policies").glob("*.yaml")):
        rule_file = load_rule_file(path)
        assert rule_file.spec is not None and rule_file.spec.id == rule_file.name
        assert all(r.passed for r in run_rule_tests(rule_file)), path


def test_targeting_reads_dealer_facts_and_tag_sets():
    assert targeted('dealer.level == 1 and "window_specialist" in dealer.tags')
    assert not targeted('"rural_market" in dealer.tags')
    assert targeted('"rural_market" not in dealer.tags')
    assert not targeted('not ("window_specialist" in dealer.tags)')
    assert targeted('dealer.region in ["east", "north"] and dealer.tier != "core"')
    assert not targeted('dealer.region in ["east"]', **{"dealer.region": "west"})
    assert targeted('"rural_market" in dealer.tags or dealer.channel == "retail"', **{"dealer.tags": []})


def test_policy_errors_name_file_line_and_path():
    assert errors_of(policy(target='dealer.levl == 1')) == [
        "rules/policies/trial.yaml:8 policy.target: unknown fact 'dealer.levl' — did you mean 'dealer.level'? "
        "(declared: dealer.channel, dealer.code, dealer.credit_points, dealer.early_access, dealer.early_access_days, "
        "dealer.level, dealer.region, dealer.supply_priority, dealer.tags, dealer.tier)"]
    assert errors_of(policy(target='dealer.tags == "x"')) == [
        "rules/policies/trial.yaml:8 policy.target: cannot compare a set with a string in dealer.tags == \"x\""]
    assert errors_of(policy(target="'\"Rural Market\" in dealer.tags'")) == [
        "rules/policies/trial.yaml:8 policy.target: 'Rural Market' is not a valid set value (lower case, digits, underscores)"]
    assert errors_of(policy(ack="{required: true, reminders: [2d, 1d]}")) == [
        "rules/policies/trial.yaml:9 policy.acknowledgment: a required acknowledgment needs a deadline",
        "rules/policies/trial.yaml:9 policy.acknowledgment.reminders: reminders must be in increasing order"]
    assert errors_of(policy(ack="{required: true, deadline: 1d, reminders: [1d]}")) == [
        "rules/policies/trial.yaml:9 policy.acknowledgment.reminders[0]: a reminder must come before the deadline"]
    assert errors_of(policy(extra="  pilot: {share: 10%, duration: 7d}\n")) == [
        "rules/policies/trial.yaml:10 policy.pilot: give either promote_when (promote by the figures) or "
        "decided_by (an HQ decision), not both or neither"]
    assert errors_of(policy(extra="  pilot: {share: 100%, duration: 7d, promote_when: pilot.ack_rate > 0.5}\n")) == [
        "rules/policies/trial.yaml:10 policy.pilot.promote_when: unknown fact 'pilot.ack_rate' — did you mean "
        "'pilot.acknowledgment_rate'? (declared: "
        "pilot.acknowledgment_rate, pilot.conversion_rate, pilot.dealers, pilot.task_acceptance_rate)",
        "rules/policies/trial.yaml:10 policy.pilot.share: a pilot takes more than 0% and less than 100% of the targets"]
    tasks = ("  tasks:\n"
             "    - {key: a, title: A, due: 2d, remind_before: 2d, evidence: [photo], reviewer: hq, points: 5}\n"
             "    - {key: a, title: B, due: 2d, evidence: [selfie], reviewer: hq, points: -1}\n")
    assert errors_of(policy(extra=tasks)) == [
        "rules/policies/trial.yaml:12 policy.tasks[1].evidence[0]: 'selfie' is not allowed (expected one of: "
        "photo, video, document, figures)",
        "rules/policies/trial.yaml:12 policy.tasks[1].points: -1 is less than the minimum of 0"]
    assert errors_of(policy(extra=tasks.replace("selfie", "video").replace("-1", "1"))) == [
        "rules/policies/trial.yaml:11 policy.tasks[0].remind_before: the reminder must come after delivery, before the due time",
        "rules/policies/trial.yaml:12 policy.tasks[1].key: duplicate task key 'a' (also on line 11)"]


def test_a_policy_file_has_no_rules_and_a_rules_file_no_policy():
    assert errors_of(policy() + "rules: []\n") == [
        "rules/policies/trial.yaml:10 rules: 'rules' does not belong in a policy file"]
    assert errors_of(policy().replace("  effective: {from: 2026-12-01, to: 2027-01-31}\n", "")) == [
        "rules/policies/trial.yaml:3 policy: missing required key 'effective'"]
    assert errors_of(policy().replace("2027-01-31", "2026-11-30")) == [
        "rules/policies/trial.yaml:7 policy.effective.to: the window ends before it starts"]


def test_pilot_promotion_is_a_rule_evaluated_by_the_engine():
    spec = load_rule_file("t.yaml", policy(extra="  pilot: {share: 10%, duration: 7d, promote_when: "
                                                  "'pilot.acknowledgment_rate >= 0.6 and pilot.conversion_rate > 0.2'}\n")).spec
    ruleset = compile_rule_file(spec.pilot.promote, 1)
    figures = {"pilot.dealers": 10, "pilot.acknowledgment_rate": Decimal("0.6"),
               "pilot.conversion_rate": Decimal("0.3"), "pilot.task_acceptance_rate": Decimal("0")}
    assert ruleset.decide(figures).outcome == {"promote": True}
    assert ruleset.decide({**figures, "pilot.conversion_rate": Decimal("0.2")}).outcome == {"promote": False}
    assert spec.pilot.share == Decimal("0.1") and spec.pilot.duration_seconds == 7 * 86400
