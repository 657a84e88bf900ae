"""Tier benefits that act (`acts` of rules/tiering.yaml): the supply priority the allocation rules read
when stock is short, and early access to new-product policies through targeting; the file's checks.
SLA targets per tier are the service file's (tests/test_service_sla.py)."""
from __future__ import annotations

from pathlib import Path

from dealerflow.shared import rulebook
from policies_dsl import RuleFileError, load_rule_file

from .policy_support import deploy, policy_yaml, unique
from .test_stock import order, set_stock, warehouse

TIERING = (Path(__file__).resolve().parents[1] / "rules" / "tiering.yaml").read_text(encoding="utf-8")
CORE_ACTS = next(line for line in TIERING.splitlines() if "acts: {supply_priority: 100" in line)


def _errors(text: str) -> list[str]:
    try:
        load_rule_file("rules/tiering.yaml", text)
    except RuleFileError as e:
        return [str(x) for x in e.errors]
    return []


def test_the_acts_of_a_tier_are_checked():
    assert _errors(TIERING) == []
    line = TIERING.splitlines().index("      acts: {supply_priority: 50, early_access: 7d}") + 1
    assert _errors(TIERING.replace("supply_priority: 100", "supply_priority: 40")) == [
        f"rules/tiering.yaml:{line} tiering.tiers[1].acts.supply_priority: a lower tier cannot go before a higher"
        f" one for supply: 50 is above core's 40"]
    assert _errors(TIERING.replace("early_access: 7d", "early_access: 15d")) == [
        f"rules/tiering.yaml:{line} tiering.tiers[1].acts.early_access: a lower tier cannot get new products earlier"
        f" than a higher one: 15 days is more than core's 14"]
    assert _errors(TIERING.replace("early_access: 7d", "early_access: 36h")) == [
        f"rules/tiering.yaml:{line} tiering.tiers[1].acts.early_access: early access is counted in whole days (7d),"
        f" not 36h"]
    assert _errors(TIERING.replace("supply_priority: 50", "supply_priority: 101")) == [
        f"rules/tiering.yaml:{line} tiering.tiers[1].acts.supply_priority: 101 is greater than the maximum of 100"]


def test_a_core_dealer_goes_first_for_short_stock_by_its_tier_benefit(client, make_user, make_dealer, product,
                                                                        sessions):
    hq = make_user("hq")
    w = warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 1}]).status_code == 200
    core, key = make_dealer(tier="core"), make_dealer(tier="key")
    first = order(client, core, product.sku, 3).json()["allocation"]["decision"]
    assert first["rule"] == "core-dealers-first" and first["facts"]["dealer.supply_priority"] == 100
    assert first["outcome"]["priority"] == 100
    assert order(client, key, product.sku, 3).json()["allocation"]["decision"]["facts"][
        "dealer.supply_priority"] == 50
    with sessions.begin() as s:  # HQ lowers core's benefit to key's: core dealers wait like the others
        rulebook.deploy(s, filename="rules/tiering.yaml", actor="tests",
                        text=TIERING.replace(CORE_ACTS, "      acts: {supply_priority: 50, early_access: 14d}"))
    later = order(client, core, product.sku, 3).json()["allocation"]["decision"]
    assert later["rule"] == "default" and later["facts"]["dealer.supply_priority"] == 50
    assert later["outcome"]["priority"] == 50


def test_a_new_product_policy_can_target_the_tiers_with_early_access(client, make_user, make_dealer):
    region = unique("ea")
    hq = make_user("hq")
    core, key, normal = (make_dealer(region=region, tier=t) for t in ("core", "key", "normal"))
    policy_id = unique("p")
    r = deploy(client, hq, policy_yaml(policy_id, f'dealer.region == "{region}" and dealer.early_access'))
    assert r.status_code == 201, r.text
    preview = client.get(f"/api/v1/policies/{policy_id}/preview", headers=hq.headers).json()
    assert "sample" in preview, preview
    assert sorted(preview["sample"]) == sorted([core.dealer.code, key.dealer.code])
    r = deploy(client, hq, policy_yaml(unique("p"), f'dealer.region == "{region}" and dealer.early_access_days >= 14'))
    assert r.status_code == 201, r.text
    only_core = client.get(f"/api/v1/policies/{r.json()['ruleset']}/preview", headers=hq.headers).json()
    assert only_core["sample"] == [core.dealer.code] and normal.dealer.code not in preview["sample"]
