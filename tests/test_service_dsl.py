"""Service files: categories, targets per category and tier in working time on China's calendar,
file:line errors, and the working-time arithmetic across holidays and make-up working days."""
from __future__ import annotations

from datetime import datetime

import pytest

from dealerflow.core.config import ROOT
from policies_dsl import RuleFileError, compile_rule_file, load_rule_file, run_rule_tests
from policies_dsl.kinds.service import terms
from policies_dsl.working_time import CHINA, WorkingCalendar

SHIPPED = ROOT / "rules" / "service.yaml"
FILE = """\
ruleset: trial_service
kind: service
service:
  working_hours: {from: "09:00", to: "18:00"}
  categories:
    - {name: product, title: Product}
    - {name: promotion, title: {zh: 促销申请, en: Promotion}, route: hq, approval: true}
  targets:
    default:
      core: {response: 4h, resolution: 24h}
      normal: {response: 1d, resolution: 5d}
  remind_before: 2h
  pausing: [waiting_dealer]
"""


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/service.yaml", text)
    return [str(x) for x in e.value.errors]


def test_the_shipped_file_validates_and_passes_its_tests():
    results = run_rule_tests(load_rule_file(SHIPPED))
    assert results and all(r.passed for r in results), [r.message for r in results if not r.passed]


def test_the_rules_pick_the_category_targets_over_the_default():
    rf = load_rule_file("t.yaml", FILE.replace("  remind_before", "    product:\n      core: {response: 1h,"
                                                                   " resolution: 8h}\n  remind_before"))
    ruleset = compile_rule_file(rf, 1)
    assert terms(ruleset, rf.spec, category="product", tier="core").target.resolution == 8 * 3600
    assert terms(ruleset, rf.spec, category="promotion", tier="core").target.resolution == 24 * 3600
    promo = terms(ruleset, rf.spec, category="promotion", tier="normal")
    assert (promo.route, promo.approval, promo.target.resolution) == ("hq", True, 5 * 9 * 3600)


@pytest.mark.parametrize("change, message", [
    ("working_hours: {from: \"09:00\", to: \"18:00\"}", "working_hours: {from: \"18:00\", to: \"09:00\"}",),
])
def test_a_working_day_that_ends_before_it_starts_is_refused(change, message):
    errs = errors_of(FILE.replace(change, message))
    assert any("service.working_hours.to" in e and "ends after it starts" in e for e in errs), errs


def test_unknown_categories_tiers_and_bad_targets_are_named_with_their_line():
    text = FILE.replace("  remind_before", "    unknown:\n      core: {response: 1h, resolution: 2h}\n"
                                           "    product:\n      gold: {response: 3h, resolution: 2h}\n  remind_before")
    errs = errors_of(text)
    assert any(":12 service.targets.unknown: unknown category 'unknown'" in e for e in errs), errs
    assert any("service.targets.product.gold: tier 'gold' has no default targets" in e for e in errs), errs
    assert any("service.targets.product.gold.response: the first response (3h) cannot come after" in e
               for e in errs), errs
    assert any("'1w' is not working time like 30m, 24h or 5d" in e
               for e in errors_of(FILE.replace("response: 4h", "response: 1w"))), errs
    assert any("pausing[0]" in e and "'closed' is not allowed" in e
               for e in errors_of(FILE.replace("[waiting_dealer]", "[closed]")))


def test_a_test_expecting_the_wrong_due_time_fails_with_the_reason():
    text = FILE + ("tests:\n  - name: wrong\n    given: {request.category: product, dealer.tier: core,"
                   " request.filed_at: \"2026-09-30 17:00\"}\n    expect: {resolution_due: \"2026-10-09 14:00\"}\n")
    [result] = run_rule_tests(load_rule_file("t.yaml", text))
    assert not result.passed and "expected resolution_due=2026-10-09 14:00, got 2026-10-10 14:00" in result.message


# --- working time --------------------------------------------------------------------------------

CAL = WorkingCalendar()


def test_working_time_skips_the_national_day_week_and_counts_the_make_up_saturday():
    assert CAL.add(at("2026-09-30 17:00"), 24 * 3600) == at("2026-10-10 14:00")
    assert CAL.between(at("2026-09-30 17:00"), at("2026-10-10 14:00")) == 24 * 3600
    # the holiday itself holds no working time; the make-up Saturday (10 Oct) is a full day
    assert CAL.between(at("2026-10-01 00:00"), at("2026-10-08 00:00")) == 0
    assert CAL.between(at("2026-10-10 00:00"), at("2026-10-11 00:00")) == 9 * 3600
    # an ordinary Saturday is not
    assert CAL.between(at("2026-10-17 00:00"), at("2026-10-18 00:00")) == 0


def test_working_time_at_the_edges_of_the_day():
    assert CAL.add(at("2026-11-16 18:00"), 1) == at("2026-11-17 09:00").replace(second=1)
    assert CAL.add(at("2026-11-16 17:59"), 60) == at("2026-11-16 18:00")
    assert CAL.add(at("2026-11-16 08:00"), 0) == at("2026-11-16 08:00")
    assert CAL.add(at("2026-11-16 08:00"), 9 * 3600) == at("2026-11-16 18:00")
    assert CAL.between(at("2026-11-16 18:00"), at("2026-11-17 09:00")) == 0


def test_a_year_the_calendar_does_not_know_yet_counts_monday_to_friday():
    assert CAL.between(at("2027-01-04 00:00"), at("2027-01-11 00:00")) == 5 * 9 * 3600
