"""Accessibility: axe-core finds nothing serious or critical on the login page and on the start page of
each role (a desktop, in Chinese), nor on a dealer's start page on a phone with its menu open. (The
journeys of test_dealer.py and test_staff.py audit every page they visit on a desktop in Chinese.)"""
from __future__ import annotations

import pytest

from ..test_console_dashboard import shop  # noqa: F401  (the fixture: May 2026 sales in three regions)
from .browsing import serious


@pytest.mark.parametrize("role, start", [
    ("dealer", "/console/orders"), ("credit_manager", "/console/tasks"), ("hq", "/console/dashboard"),
    ("finance", "/console/settlements"), ("account_manager", "/console/dashboard"), ("admin", "/console/dealers"),
])
def test_the_start_page_of_each_role_has_no_serious_accessibility_problem(visit, make_user, shop, role, start):
    who = shop["a"] if role == "dealer" else shop["am"] if role == "account_manager" else make_user(role)
    if start == "/console/dashboard":
        start += f"?period=2026-05&category={shop['category']}"  # with figures, so the charts are drawn
    v = visit(who.user.username)
    v.check(start)
    assert serious(v.page) == []


def test_the_login_page_and_a_dealers_phone_have_no_serious_accessibility_problem(visit, shop):
    v = visit(None)
    v.go("/console/login")
    assert serious(v.page) == []
    v = visit(shop["a"].user.username, phone=True)
    v.check("/console/orders")
    assert serious(v.page) == []
    v.page.locator("label.menu-button").click()  # the menu, opened
    assert serious(v.page) == []
