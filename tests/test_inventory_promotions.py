"""Promotion resources for rising orders: a small catalogue in the inventory rule file (matched by a
product's sku or category) checked with file:line errors, and pushed with the advice — in its
explanation, in the account manager's notification — when a dealer's orders of a product rise three
months in a row."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dealerflow.core.config import ROOT
from dealerflow.inventory.health import months_back
from dealerflow.models import InventoryAdvice, Notification
from policies_dsl import RuleFileError, load_rule_file

from .policy_support import unique
from .settlement_support import delivered
from .support import wait_until
from .test_inventory import DAY, _closed, _run, make_product

SHIPPED = (ROOT / "rules" / "inventory.yaml").read_text(encoding="utf-8")
RISING = "  rising_orders:\n    months: 3\n    severity: low\n"


def with_resources(block: str) -> str:
    start = SHIPPED.index("  rising_orders:\n")
    end = SHIPPED.index("  notify:\n")
    return SHIPPED[:start] + RISING + "    resources:\n" + block + SHIPPED[end:]


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as e:
        load_rule_file("rules/inventory.yaml", text)
    return [str(x) for x in e.value.errors]


def test_the_shipped_catalogue_serves_products_by_category_and_sku():
    spec = load_rule_file("rules/inventory.yaml", SHIPPED).spec
    assert [r["name"] for r in spec.resources_for("ANY", "window")] == ["门窗旺季促销物料包"]
    assert [r["name"] for r in spec.resources_for("ANY", "cabinet")] == ["定制橱柜样板间支持"]
    assert spec.resources_for("ANY", "hardware") == [] and spec.resources_for("ANY", None) == []
    by_sku = load_rule_file("rules/inventory.yaml", with_resources(
        "      - {name: Launch kit, link: 'https://example.com/kit', for: {skus: [WIN-1]}}\n")).spec
    assert by_sku.resources_for("WIN-1", "window") == [
        {"name": "Launch kit", "link": "https://example.com/kit", "description": None}]
    assert by_sku.resources_for("WIN-2", "window") == []


def test_a_bad_catalogue_is_refused_at_its_line():
    text = with_resources(
        "      - {name: Kit, description: posters, for: {categories: [window]}}\n"
        "      - {name: Kit, link: /console/policies, for: {skus: [A]}}\n"
        "      - {name: Empty, for: {categories: [door]}}\n")
    line = text.splitlines().index("      - {name: Kit, link: /console/policies, for: {skus: [A]}}") + 1
    assert errors_of(text) == [
        f"rules/inventory.yaml:{line} inventory.rising_orders.resources[1].name: 'Kit' is already resource 1;"
        " give each resource its own name",
        f"rules/inventory.yaml:{line + 1} inventory.rising_orders.resources[2]: resource 'Empty' needs a link or a"
        " description: the account manager has nothing to push otherwise"]
    bad_link = errors_of(with_resources("      - {name: Kit, link: 'ftp://x', for: {categories: [window]}}\n"))
    assert len(bad_link) == 1 and "inventory.rising_orders.resources[0].link" in bad_link[0]
    bad_for = errors_of(with_resources("      - {name: Kit, description: x, for: {category: [window]}}\n"))
    assert len(bad_for) == 1 and "inventory.rising_orders.resources[0].for" in bad_for[0] and "category" in bad_for[0]


def test_rising_orders_push_the_matching_resources_to_the_account_manager(client, make_dealer, make_user, sessions):
    region = unique("r")
    manager = make_user("account_manager")
    dealer = make_dealer(region=region, account_manager=manager.user.username)
    hq = make_user("hq")
    product = make_product(sessions)  # a window: the shipped file's first resource serves it
    for back, quantity in ((4, 1), (3, 2), (2, 3), (1, 4)):  # orders rising three months in a row
        delivered(sessions, dealer, product, quantity, (months_back(DAY, back) + timedelta(days=14)).isoformat())
    _run(client, hq, region)
    wait_until(lambda: _closed(sessions, region), timeout=60)
    with sessions() as s:
        push = s.scalars(select(InventoryAdvice).where(InventoryAdvice.dealer_id == dealer.dealer.id,
                                                       InventoryAdvice.action == "push_promotion")).one()
        body = s.scalar(select(Notification.body).where(Notification.recipient_user_id == manager.user.id,
                                                        Notification.kind == "inventory"))
    assert push.explanation["facts"]["orders.rising_months"] == 3
    assert push.explanation["resources"] == [{"name": "门窗旺季促销物料包", "link": "/console/policies",
                                              "description": "门店海报、易拉宝与陈列指引，配合旺季让利政策使用"}]
    assert "resources: 门窗旺季促销物料包" in push.explanation["reason"]
    assert f"Rising orders of {product.sku} at {dealer.dealer.code}: push 门窗旺季促销物料包 /console/policies" in body
