"""The console opens in a real browser: a dealer logs in on a phone and places an order."""
from __future__ import annotations


def test_a_dealer_orders_on_a_phone(visit, make_dealer, product):
    dealer = make_dealer()
    v = visit(dealer.user.username, phone=True)
    v.go("/console/orders")
    assert v.fits(), "the orders page scrolls sideways on a phone"
    v.page.select_option("select[name=sku]", product.sku)
    v.page.fill("input[name=quantity]", "2")
    v.page.locator("form[method=post][action='/console/orders'] button[type=submit]").click()
    v.page.wait_for_url("**/console/orders/*")
    assert product.sku in v.page.content()
    assert v.errors == []
