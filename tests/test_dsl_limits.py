"""Rule files that would exhaust the validator — alias loops and alias bombs, deep nesting, huge or
deeply nested conditions, code tags, oversize files — are refused early and cheaply, with file:line
errors, never with a crash."""
from __future__ import annotations

import json
import tracemalloc

import pytest

from policies_dsl import RuleFileError, load_rule_file

HEADER = """\
ruleset: sample
kind: credit_approval
facts:
  a: {type: int}
default: {decision: review}
"""


def refused(text: str, file: str = "rules/x.yaml") -> list[str]:
    # Cheaply: an expansion that ran away would hold far more than this (memory, not a clock, so the
    # check means the same on a busy machine).
    tracemalloc.start()
    try:
        with pytest.raises(RuleFileError) as e:
            load_rule_file(file, text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"refused, but after holding {peak >> 20} MiB"
    return [str(x) for x in e.value.errors]


def when(condition: str) -> str:
    return HEADER + f"rules:\n  - name: r\n    when: {json.dumps(condition)}\n    then: {{decision: approve}}\n"


def test_an_alias_inside_what_it_names_is_refused():
    assert refused("ruleset: x\nkind: policy\na: &x [*x]\n") == [
        "rules/x.yaml:3 a[0]: the alias *x is inside what it names: it would repeat forever"]


def test_alias_expansion_is_bounded_while_reading():
    # 9 levels of 10 aliases: 10^9 values once expanded; refused after some ten thousand
    lines = ["l0: &l0 [lol]"] + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    assert refused("\n".join(lines) + "\n") == [
        "rules/x.yaml:5 l4[3]: aliases (*name) repeat more than 10000 values: a rule file may not repeat that much"]


def test_nesting_is_bounded_while_reading():
    for text in ("x: " + "[" * 900 + "]" * 900 + "\n", "x: " + "{a: " * 900 + "1" + "}" * 900 + "\n"):
        [error] = refused(text)
        assert error.startswith("rules/x.yaml:1 x") and error.endswith(
            ": nested more than 64 levels deep: a rule file may not nest that much")
    # an alias counts at the depth it is used, with the depth of what it names
    [error] = refused("a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n")
    assert error.endswith(": nested more than 64 levels deep: a rule file may not nest that much")


def test_long_and_deeply_nested_conditions_are_refused():
    long_not = "not " * 20000 + "a > 1"
    assert refused(when(long_not)) == [
        f"rules/x.yaml:8 rules[0].when: the condition is {len(long_not)} characters long, more than the 4000"
        " allowed: split it into several rules"]
    long_sum = " + ".join(["a"] * 8000) + " > 1"
    assert refused(when(long_sum)) == [
        f"rules/x.yaml:8 rules[0].when: the condition is {len(long_sum)} characters long, more than the 4000"
        " allowed: split it into several rules"]
    message = "rules/x.yaml:8 rules[0].when: the condition nests more than 64 levels deep: split it into several rules"
    assert refused(when("not " * 900 + "a > 1")) == [message]
    assert refused(when(" + ".join(["a"] * 900) + " > 1")) == [message]
    assert refused(when("(a > 1 or (a > 2 and " * 50 + "a > 3" + "))" * 50)) == [message]
    load_rule_file("ok.yaml", when("(" * 300 + "a > 1" + ")" * 300))  # brackets alone nest nothing
    # short of the limits, conditions are fine
    load_rule_file("ok.yaml", when("not " * 40 + "a > " + " + ".join(["a"] * 20)))


@pytest.mark.parametrize("text, where, tag", [
    ("!!python/name:os.system k: 1\n", "k", "python/name:os.system"),
    ("? !!python/name:os.system\n: 1\n", "(document)", "python/name:os.system"),
    ("k: !!python/name:os.system\n", "k", "python/name:os.system"),
    ("k: [1, !!python/object/apply:os.system [echo]]\n", "k[1]", "python/object/apply:os.system"),
])
def test_code_tags_on_keys_and_values_are_refused_never_constructed(text, where, tag):
    assert refused(text) == [f"rules/x.yaml:1 {where}: YAML tag 'tag:yaml.org,2002:{tag}' is not allowed in a rule file"]


@pytest.mark.parametrize("text, message", [
    ("a: !!int abc\n", "rules/x.yaml:1 a: 'abc' is not a valid !!int"),
    ("a: !!bool maybe\n", "rules/x.yaml:1 a: 'maybe' is not a valid !!bool"),
    ("a: !!timestamp soon\n", "rules/x.yaml:1 a: 'soon' is not a valid !!timestamp"),
    ("a: !!map text\n", "rules/x.yaml:1 a: YAML tag 'tag:yaml.org,2002:map' is not allowed in a rule file"),
    ("<<: {a: 1}\n", "rules/x.yaml:1 <<: merge keys (<<) are not supported in a rule file: write the keys out"),
    ("a: b\x07\n", "rules/x.yaml:1 (document): the file holds a control character (#x7), which a rule file may not"),
])
def test_other_malformed_yaml_is_an_error_not_a_crash(text, message):
    assert refused(text) == [message]


def test_file_size_and_the_number_of_values_are_bounded(tmp_path):
    big = HEADER + "description: '" + "x" * (1 << 20) + "'\n"
    assert refused(big) == ["rules/x.yaml:1 (document): the file is larger than 1 MiB, the most a rule file may be"]
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(RuleFileError) as e:
        load_rule_file(path)
    assert str(e.value) == f"{path}:1 (document): the file is larger than 1 MiB, the most a rule file may be"
    # a MiB of short values would take seconds to read: refused after the first twenty thousand
    assert refused("x: [" + "a, " * 300_000 + "a]\n") == [
        "rules/x.yaml:1 x[19997]: the file holds more than 20000 values: a rule file may not be that large"]
