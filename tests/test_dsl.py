"""The rule DSL: errors with file:line and path, compilation to durable_rules, explained decisions."""
from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import (Decision, FactError, RuleFileError, compile_rule_file, json_schema, load_rule_file,
                          parse_duration, run_rule_tests)

CREDIT_FILE = ROOT / "rules" / "credit_approval.yaml"

HEADER = """\
ruleset: sample
kind: credit_approval
facts:
  dealer.rating: {type: enum, values: [A, B, C, D]}
  dealer.overdue_days: {type: int}
  dealer.credit_limit: {type: money}
  dealer.outstanding: {type: money}
  dealer.is_key: {type: bool}
  dealer.region: {type: string}
  dealer.growth: {type: decimal}
  order.amount: {type: money}
"""
FACTS = {"dealer.rating": "A", "dealer.overdue_days": 0, "dealer.credit_limit": Decimal("1000.00"),
         "dealer.outstanding": Decimal("0.00"), "dealer.is_key": False, "dealer.region": "east",
         "dealer.growth": Decimal("0.1"), "order.amount": Decimal("10.00")}


def rules_file(rules: str, extra: str = "default: {decision: review}\n") -> str:
    return HEADER + "rules:\n" + rules + extra


def errors_of(text: str, file: str = "rules/sample.yaml") -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file(file, text)
    return [str(x) for x in e.value.errors]


def decide(when: str, **facts):
    text = rules_file(f"  - name: r\n    when: {json.dumps(when)}\n    then: {{decision: approve}}\n")
    return compile_rule_file(load_rule_file("t.yaml", text), 1).decide({**FACTS, **facts}).rule == "r"


# --- errors ------------------------------------------------------------------------------------

def test_unknown_fact_in_a_condition_names_file_line_path_and_suggests():
    text = rules_file("  - name: a\n    when: order.amount > 1\n    then: {decision: approve}\n"
                      "  - name: b\n    when: dealer.ratng == \"A\"\n    then: {decision: approve}\n")
    assert errors_of(text, "rules/credit_approval.yaml") == [
        "rules/credit_approval.yaml:17 rules[1].when: unknown fact 'dealer.ratng' — did you mean 'dealer.rating'? "
        "(declared: dealer.credit_limit, dealer.growth, dealer.is_key, dealer.outstanding, dealer.overdue_days, "
        "dealer.rating, dealer.region, order.amount)"]


def test_unknown_key_wrong_type_and_missing_default():
    text = HEADER + "rules:\n  - name: a\n    whenn: order.amount > 1\n    then: {decision: approve}\n    priority: high\n"
    assert errors_of(text) == [
        "rules/sample.yaml:1 (document): missing required key 'default'",
        "rules/sample.yaml:13 rules[0]: missing required key 'when'",
        "rules/sample.yaml:14 rules[0].whenn: unknown key 'whenn' — did you mean 'when'? "
        "(expected one of: name, description, priority, when, then)",
        "rules/sample.yaml:16 rules[0].priority: expected an integer, got text 'high'",
    ]


def test_duplicate_rule_names_name_both_lines():
    text = rules_file("  - name: a\n    when: order.amount > 1\n    then: {decision: approve}\n"
                      "  - name: a\n    when: order.amount > 2\n    then: {decision: reject}\n")
    assert errors_of(text) == ["rules/sample.yaml:16 rules[1].name: duplicate rule name 'a' (also on line 13)"]


def test_duplicate_yaml_keys_and_syntax_errors():
    assert errors_of(HEADER + "rules: []\nrules: []\ndefault: {decision: review}\n") == [
        "rules/sample.yaml:13 rules: duplicate key 'rules' (first on line 12)"]
    [syntax] = errors_of("ruleset: x\nfacts: {a: [\n")
    assert syntax.startswith("rules/sample.yaml:3 (document): YAML syntax error: ")


def test_type_errors_in_conditions():
    cases = {
        'dealer.region > 5': "cannot compare a string with a number in dealer.region > 5",
        'order.amount > dealer.overdue_days': "cannot compare money with a plain number in order.amount > dealer.overdue_days",
        'dealer.rating == "E"': "'E' is not one of A, B, C, D",
        'dealer.rating in ["A", "Z"]': "'Z' is not one of A, B, C, D",
        'dealer.region + 1 > 2': "'+' needs numbers, not a string",
        'order.amount * dealer.credit_limit > 1': "cannot multiply money by money",
        'order.amount > ': "syntax error at column 16: the condition ends too early",
        'order.amount >> 1': "syntax error at column 15: unexpected '>', expected a value",
        '1 > 2': "one side of a comparison must be a single fact",
        'dealer.region': "a condition must compare facts or test a bool fact",
    }
    for when, message in cases.items():
        text = rules_file(f"  - name: a\n    when: {json.dumps(when)}\n    then: {{decision: approve}}\n")
        assert errors_of(text) == [f"rules/sample.yaml:14 rules[0].when: {message}"], when


def test_outcomes_and_durations_are_checked_per_kind():
    text = rules_file("  - name: a\n    when: order.amount > 1\n    then: {decision: maybe}\n",
                      "default:\n  decision: review\n  task: {role: credit_manager, sla: 24 hours}\n")
    assert errors_of(text) == [
        "rules/sample.yaml:15 rules[0].then.decision: 'maybe' is not allowed (expected one of: approve, review, reject)",
        "rules/sample.yaml:18 default.task.sla: '24 hours' is not a duration like 30s, 15m, 24h or 2d",
    ]
    assert parse_duration("24h").total_seconds() == 86400 and parse_duration("2s").total_seconds() == 2
    with pytest.raises(ValueError):
        parse_duration("1 day")


def test_rule_file_tests_are_checked_for_undeclared_and_mistyped_facts():
    given = ", ".join(f"{k}: {json.dumps(str(v)) if isinstance(v, Decimal) else json.dumps(v)}"
                      for k, v in FACTS.items() if k != "dealer.overdue_days")
    text = rules_file("  - name: a\n    when: order.amount > 1 and dealer.overdue_days < 5\n    then: {decision: approve}\n",
                      "default: {decision: review}\ntests:\n"
                      f"  - name: t\n    given: {{{given}, dealer.overdue_dayz: 3}}\n    expect: {{rule: b}}\n")
    assert errors_of(text) == [
        "rules/sample.yaml:19 tests[0].given: missing fact 'dealer.overdue_days' (a test gives every fact the rules read)",
        "rules/sample.yaml:19 tests[0].given.dealer.overdue_dayz: undeclared fact 'dealer.overdue_dayz' — "
        "did you mean 'dealer.overdue_days'?",
        "rules/sample.yaml:20 tests[0].expect.rule: no rule named 'b'",
    ]


def test_yaml_is_loaded_safely():
    text = "!!python/object/apply:os.system ['echo pwned']\n"
    [error] = errors_of(text)
    assert error == "rules/sample.yaml:1 (document): YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed in a rule file"


# --- conditions and the engine ------------------------------------------------------------------

def test_comparisons_in_not_and_arithmetic():
    assert decide("order.amount <= dealer.credit_limit - dealer.outstanding", **{"order.amount": Decimal("1000.00")})
    assert not decide("order.amount <= dealer.credit_limit - dealer.outstanding", **{"order.amount": Decimal("1000.01")})
    assert decide("dealer.credit_limit - dealer.outstanding >= order.amount")  # flipped: fact on the right
    assert decide("dealer.credit_limit >= order.amount * 100") and not decide("dealer.credit_limit > order.amount * 100")
    assert decide("order.amount > 9.99") and not decide("order.amount > 10")  # money literals are exact
    assert decide('dealer.rating in ["A", "B"]') and not decide('dealer.rating not in ["A", "B"]')
    assert decide('not (dealer.rating == "C" or dealer.overdue_days > 0)')
    assert not decide('not (dealer.rating == "A" and dealer.overdue_days == 0)')
    assert decide("dealer.is_key", **{"dealer.is_key": True}) and not decide("dealer.is_key")
    assert decide("not dealer.is_key")
    assert decide("dealer.growth >= 0.1") and not decide("dealer.growth > 0.1")
    assert decide('dealer.region == "east" and (dealer.overdue_days > 5 or dealer.rating != "D")')


def test_decision_explains_every_match_and_the_winner():
    ruleset = compile_rule_file(load_rule_file(str(CREDIT_FILE)), 7)
    facts = {"dealer.rating": "A", "dealer.overdue_days": 120, "dealer.credit_limit": "1000.00",
             "dealer.outstanding": Decimal("100.5"), "dealer.credit_points": 100, "order.amount": 10}
    d = ruleset.decide(facts)
    assert (d.ruleset, d.version, d.rule, d.outcome["decision"]) == ("credit_approval", 7, "reject-long-overdue", "reject")
    assert [m["name"] for m in d.matched] == ["reject-long-overdue", "approve-within-headroom"]
    assert d.reason == ("more than 90 days overdue — rule 'reject-long-overdue' (priority 100) matched: "
                        "dealer.overdue_days > 90 with dealer.overdue_days=120; also matched: approve-within-headroom")
    assert d.facts == {"dealer.rating": "A", "dealer.overdue_days": 120, "dealer.credit_limit": "1000.00",
                       "dealer.outstanding": "100.50", "dealer.credit_points": 100, "order.amount": "10.00"}
    json.dumps(d.to_dict())
    d = ruleset.decide({**facts, "dealer.overdue_days": 0, "dealer.rating": "C"})
    assert d.rule == "default" and d.matched == () and d.outcome["task"]["role"] == "credit_manager"


def test_facts_are_type_checked_before_the_engine():
    ruleset = compile_rule_file(load_rule_file(str(CREDIT_FILE)), 1)
    good = {"dealer.rating": "A", "dealer.overdue_days": 0, "dealer.credit_limit": "1000.00",
            "dealer.outstanding": "0", "dealer.credit_points": 100, "order.amount": "1.00"}
    cases = [
        ({"order.amount": 1.5}, "fact 'order.amount': expected an amount with at most 2 decimals, got 1.5"),
        ({"order.amount": "1.001"}, "fact 'order.amount': expected an amount with at most 2 decimals, got '1.001'"),
        ({"dealer.overdue_days": "abc"}, "fact 'dealer.overdue_days': expected an integer, got 'abc'"),
        ({"dealer.rating": "E"}, "fact 'dealer.rating': expected one of A, B, C, D, got 'E'"),
        ({"dealer.ratng": "A"}, "undeclared fact 'dealer.ratng' — did you mean 'dealer.rating'?"),
    ]
    for change, message in cases:
        with pytest.raises(FactError) as e:
            ruleset.decide({**good, **change})
        assert str(e.value) == message
    with pytest.raises(FactError, match="missing fact 'order.amount' \\(money\\)"):
        ruleset.decide({k: v for k, v in good.items() if k != "order.amount"})


def test_shipped_rule_files_pass_their_own_tests():
    for path in sorted((ROOT / "rules").rglob("*.yaml")):
        results = run_rule_tests(load_rule_file(str(path)))
        assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_two_versions_of_one_ruleset_live_side_by_side():
    text = CREDIT_FILE.read_text()
    v1 = compile_rule_file(load_rule_file("a.yaml", text), 1)
    v2 = compile_rule_file(load_rule_file("a.yaml", text.replace("> 90", "> 30").replace("overdue_days: 91", "overdue_days: 31")), 2)
    facts = {"dealer.rating": "A", "dealer.overdue_days": 45, "dealer.credit_limit": "1000.00",
             "dealer.outstanding": "0", "dealer.credit_points": 100, "order.amount": "1.00"}
    assert (v1.decide(facts).rule, v2.decide(facts).rule) == ("approve-within-headroom", "reject-long-overdue")


def test_concurrent_decisions_on_one_ruleset_are_correct():
    ruleset = compile_rule_file(load_rule_file(str(CREDIT_FILE)), 1)
    failures = []

    def work(offset: int) -> None:
        for n in range(500):
            overdue = (n + offset) % 120
            rating = "ABCD"[(n + offset) % 4]
            expected = "reject" if overdue > 90 else "approve" if rating in "AB" else "review"
            got = ruleset.decide({"dealer.rating": rating, "dealer.overdue_days": overdue, "dealer.credit_limit": "10.00",
                                  "dealer.outstanding": "0", "dealer.credit_points": 100,
                                  "order.amount": "5.00"}).outcome["decision"]
            if got != expected:
                failures.append((rating, overdue, got))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_the_published_json_schema_is_the_one_the_validator_uses():
    published = json.loads((ROOT / "schemas" / "rule-file.schema.json").read_text())
    assert published == json_schema()
    assert CREDIT_FILE.read_text().startswith("# yaml-language-server: $schema=../schemas/rule-file.schema.json")


# --- texts in both languages -------------------------------------------------------------------

def test_a_reason_may_be_given_in_both_languages_and_the_decision_keeps_both():
    text = rules_file('  - name: headroom\n    when: order.amount <= dealer.credit_limit\n'
                      '    then: {decision: approve, reason: {zh: 在信用额度内, en: within the credit headroom}}\n',
                      "default: {decision: review, reason: needs a look}\n")
    ruleset = compile_rule_file(load_rule_file("t.yaml", text), 1)
    d = ruleset.decide(FACTS)
    assert d.outcome["reason"] == {"zh": "在信用额度内", "en": "within the credit headroom"}
    assert d.reason.startswith("within the credit headroom — rule 'headroom' (priority 0) matched")
    assert d.reason_zh.startswith("在信用额度内 — rule 'headroom'")
    assert d.reason_in("zh_CN") == d.reason_zh and d.reason_in("en") == d.reason
    stored = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
    assert stored["reason_zh"] == d.reason_zh and stored["outcome"]["reason"]["zh"] == "在信用额度内"
    # A plain reason stays valid and is the same in both languages; no Chinese copy is stored.
    plain = ruleset.decide({**FACTS, "order.amount": Decimal("5000.00")})
    assert plain.reason.startswith("needs a look — no rule matched") and plain.reason_zh is None
    assert "reason_zh" not in plain.to_dict() and plain.reason_in("zh") == plain.reason


def test_a_bilingual_reason_needs_both_languages_and_nothing_else():
    half = rules_file("  - name: a\n    when: order.amount > 1\n    then: {decision: approve, reason: {zh: 可以}}\n")
    assert errors_of(half) == ["rules/sample.yaml:15 rules[0].then.reason: missing required key 'en'"]
    odd = rules_file("  - name: a\n    when: order.amount > 1\n"
                     "    then: {decision: approve, reason: {zh: 可以, en: fine, fr: bien}}\n")
    assert errors_of(odd) == ["rules/sample.yaml:15 rules[0].then.reason.fr: unknown key 'fr' (expected one of: zh, en)"]
    number = rules_file("  - name: a\n    when: order.amount > 1\n    then: {decision: approve, reason: 5}\n")
    assert errors_of(number) == ["rules/sample.yaml:15 rules[0].then.reason: expected text or a mapping, got a number 5"]


def test_the_shipped_credit_file_gives_its_reasons_in_both_languages():
    ruleset = compile_rule_file(load_rule_file(str(CREDIT_FILE)), 1)
    d = ruleset.decide({"dealer.rating": "A", "dealer.overdue_days": 0, "dealer.credit_limit": "1000.00",
                        "dealer.outstanding": "0.00", "dealer.credit_points": 100, "order.amount": "1.00"})
    assert d.rule == "approve-within-headroom"
    assert d.reason.startswith("fits in the credit headroom with rating A or B — ")
    assert d.reason_zh.startswith("在可用信用额度内")


def test_a_memo_of_decisions_gives_what_the_engine_gives_with_each_callers_own_facts():
    """Facts whose rule-read values were decided before take that decision from the memo: the same
    outcome, rules and reason as a fresh engine call, with the caller's own facts (the ones no rule
    reads differ here, and "6" and "6.0" are kept apart since the reason quotes them)."""
    from policies_dsl.kinds.inventory import full_facts

    ruleset = compile_rule_file(load_rule_file(str(ROOT / "rules" / "inventory.yaml")), 3)
    memo: dict = {}
    cases = [full_facts({"dealer.code": f"D{n}", "product.pack_size": 1 + n % 4, "stock.daily_demand": str(n % 7),
                         "stock.on_hand": on_hand, "stock.turnover_days": turnover, "stock.cover_days": cover,
                         "stock.safety_stock": safety, "orders.rising_months": rising})
             for n, (on_hand, turnover, cover, safety, rising) in enumerate(
                 [(600, "60", "60", 0, 0), (610, "61", "61", 0, 3), (5, "36500", "36500", 0, 0),
                  (60, "6", "6", 0, 0), (60, "6.0", "6.0", 0, 0), (40, "20", "20", 50, 0), (0, "0", "6", 0, 2)] * 3)]
    for facts in cases:
        remembered, fresh = ruleset.decide(facts, memo), ruleset.decide(facts)
        assert remembered == fresh
        assert remembered.facts["dealer.code"] == facts["dealer.code"]
    decisions = [v for v in memo.values() if isinstance(v, Decision)]
    assert len(decisions) == 7  # one engine call per distinct set of rule-read values
    assert all(d.facts == {} for d in decisions)  # the memo keeps no caller's facts


def test_facts_repeated_from_the_last_call_are_checked_once_and_still_by_type():
    """Within a memo's batch a fact equal to the last call's keeps its checked value, but a value of
    another type is checked afresh (True is not the integer 1) and decimals keep how they are written."""
    from policies_dsl.facts import RepeatChecked, check_facts, to_json
    from policies_dsl.kinds.inventory import full_facts

    specs = load_rule_file(str(ROOT / "rules" / "inventory.yaml")).facts
    checked = RepeatChecked(specs)
    for given in ({"stock.on_hand": 1, "stock.cover_days": "6"}, {"stock.on_hand": 1, "stock.cover_days": "6.0"},
                  {"stock.on_hand": 1, "stock.cover_days": Decimal("6.0")},
                  {"stock.on_hand": 1, "stock.cover_days": Decimal("6")}):
        facts = full_facts(given)
        exact = check_facts(specs, facts)
        assert checked(facts, None) == (exact, to_json(specs, exact))
    with pytest.raises(FactError, match="stock.on_hand"):
        checked(full_facts({"stock.on_hand": True}), None)
    # The names given are checked again whenever they change: an undeclared or missing fact is refused.
    with pytest.raises(FactError, match="undeclared fact 'stock.on_hnad'"):
        checked({**full_facts({}), "stock.on_hnad": 1}, None)
    facts = full_facts({})
    del facts["stock.cover_days"]
    with pytest.raises(FactError, match="missing fact 'stock.cover_days'"):
        checked(facts, None)
