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
