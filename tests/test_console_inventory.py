"""The inventory console on the real servers: a dealer records a count on the phone form (a bad one is
refused on the page, nothing stored), sees its figures and advice after the daily run, drafts and
places the reorder; the account manager sees the dealer's advice; HQ the channel by region."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from dealerflow.models import StockReport

from .policy_support import unique
from .support import wait_until
from .test_inventory import DAY, _closed, _run, _stocked, make_product
from .test_tiering import login


def test_dealer_account_manager_and_hq_pages(client, make_dealer, make_user, sessions):
    region = unique("r")
    manager = make_user("account_manager")
    dealer = make_dealer(region=region, account_manager=manager.user.username)
    hq = make_user("hq")
    product = make_product(sessions, pack_size=6)
    login(client, dealer)
    r = client.post("/console/inventory/stock", data={"sku": product.sku, "day": DAY.isoformat(), "on_hand": "-2"})
    assert r.status_code == 422 and "must not be negative" in r.text
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(StockReport).where(
            StockReport.dealer_id == dealer.dealer.id)) == 0
    r = client.post("/console/inventory/stock", data={"sku": product.sku, "day": DAY.isoformat(), "on_hand": "5"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    low = _stocked(client, dealer, sessions, 2, pack_size=6)
    _run(client, hq, region)
    wait_until(lambda: _closed(sessions, region), timeout=60)
    page = client.get("/console/inventory")
    assert page.status_code == 200
    assert low.sku in page.text and "reorder" in page.text and "reported" in page.text
    r = client.post("/console/inventory/drafts", follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/console/inventory")
    draft = re.search(r'/console/inventory/drafts/([0-9a-f-]{36})/place', page.text).group(1)
    r = client.post(f"/console/inventory/drafts/{draft}/place", data={f"qty:{low.sku}": "30"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/orders/")
    order = client.get(r.headers["location"])
    assert "approved" in order.text.lower()
    client.cookies.clear()
    login(client, manager)
    page = client.get("/console/inventory/red")
    assert page.status_code == 200 and dealer.dealer.code in page.text
    client.cookies.clear()
    login(client, hq)
    page = client.get("/console/inventory/hq", params={"region": region})
    assert page.status_code == 200 and region in page.text


def test_the_dealers_figures_come_a_page_at_a_time_with_filters(client, make_dealer, sessions):
    """More products than a page: the pager counts them all, keeps the filters, and a product or
    'only with advice' narrows the list (figures written as the daily run writes them)."""
    from decimal import Decimal

    from dealerflow.models import InventoryAdvice, InventoryHealth

    from .test_inventory import make_product

    region = unique("r")
    dealer = make_dealer(region=region)
    products = [make_product(sessions) for _ in range(53)]
    with sessions.begin() as s:
        for n, p in enumerate(products):
            s.add(InventoryHealth(
                day=DAY, dealer_id=dealer.dealer.id, product_id=p.id, region=region, on_hand=n, in_transit=0,
                source="reported", report_day=DAY, report_age_days=0, sold=90, received=0,
                daily_sales=Decimal(1), daily_demand=Decimal(1), demand_source="history",
                turnover_days=Decimal(n), cover_days=Decimal(n), sell_through_rate=Decimal("0.5"),
                stock_value=Decimal(n * 100), slow_value=Decimal(0), stock_age_days=None,
                orders_by_month=[0, 0, 0, 0], rising_months=0))
        s.add(InventoryAdvice(day=DAY, dealer_id=dealer.dealer.id, product_id=products[3].id, action="reorder",
                              severity="high", quantity=30, audience=["dealer"],
                              explanation={"reason": "cover under 7 days", "figures": {"on_hand": 3,
                                                                                         "stock_source": "reported"}}))
    login(client, dealer)

    def figures(html: str) -> int:  # rows of the figures table, in either language of the console
        return html.count('data-label="Turnover days"') + html.count('data-label="周转天数"')

    first = client.get("/console/inventory")
    assert first.status_code == 200
    assert figures(first.text) == 50 and 'href="?page=2"' in first.text
    second = client.get("/console/inventory", params={"page": 2})
    assert figures(second.text) == 3 and 'href="?page=1"' in second.text and "?page=3" not in second.text
    one = client.get("/console/inventory", params={"sku": products[7].sku})
    assert figures(one.text) == 1
    advised = client.get("/console/inventory", params={"advised": "on", "page": 1})
    assert figures(advised.text) == 1 and "page=" not in advised.text.split('class="pager"')[1].split("</nav>")[0]
