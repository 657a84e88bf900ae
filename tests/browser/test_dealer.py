"""A dealer's journey in the browser: on a phone it places an order and reads the decision in business
words, acknowledges a policy and confirms its statement (对账单); then every page of the dealer is
visited on a desktop and on a phone, in Chinese and in English."""
from __future__ import annotations

from datetime import date

from dealerflow.shared import accounts

from ..policy_support import FUTURE, deploy_and_publish, delivered as policy_delivered, policy_yaml, unique
from ..settlement_support import delivered, deploy_program, program_yaml, region, start, statement_of
from .browsing import TOUCH, each_way, say, submit

# What a dealer must never read on its order: the names of the credit rules and their files.
RULE_WORDS = ("approve-within-headroom", "reject-long-overdue", "review-low-credit-points", "credit_approval",
              "rules/", ".yaml")
APPROVED = "Approved automatically: within your credit limit."


def test_a_dealer_orders_acknowledges_and_confirms_then_every_page_in_each_size_and_language(
        client, visit, make_dealer, make_user, product, sessions):
    reg, hq, admin, finance = region(), make_user("hq"), make_user("admin"), make_user("finance")
    dealer = make_dealer(region=reg)
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{reg}"', title="Summer display subsidy",
                                               ack="{required: true, deadline: 1h}", effective=FUTURE))
    program = deploy_program(client, admin, program_yaml(unique("brw"), reg, confirm="1h"))
    delivered(sessions, dealer, product, 40, "2025-05-10")  # 4000.00 → 1% = 40.00
    with sessions.begin() as s:  # paid after the quarter: nothing overdue when the dealer orders today
        accounts.book(s, [accounts.entry(dealer_id=dealer.dealer.id, kind="payment", amount=product.unit_price * 40,
                                         value_date=date(2025, 7, 10), source_type="test", source_id=unique("pay"))])
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    statement = statement_of(client, dealer, run_id)
    policy_delivered(client, dealer, policy_id)

    # --- on a phone, in Chinese ---------------------------------------------------------------------
    v = visit(dealer.user.username, phone=True)
    assert v.page.url.endswith("/console/orders")
    v.check()
    v.page.locator("label.menu-button").click()  # the folded menu opens, its links a fingertip high
    links = v.page.locator("header nav a")
    assert links.first.is_visible() and links.count() >= 8
    for n in range(links.count()):
        box = links.nth(n).bounding_box()
        assert box and box["height"] >= TOUCH and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    v.page.locator("label.menu-button").click()

    v.page.select_option("select[name=sku]", product.sku)
    v.page.fill("input[name=quantity]", "2")
    for control in ("select[name=sku]", "input[name=quantity]", "form[method=post][action='/console/orders'] button[type=submit]"):
        assert v.page.locator(control).bounding_box()["height"] >= TOUCH, control
    with v.page.expect_navigation(url="**/console/orders/*"):
        v.page.locator("form[method=post][action='/console/orders'] button[type=submit]").click()
    order_path = v.page.url.removeprefix(v.base)
    v.check()
    assert product.sku in v.text() and say(v, APPROVED) in v.text()
    html = v.page.content()
    assert not [w for w in RULE_WORDS if w in html], "the dealer's order names the credit rules"

    v.check("/console/policies")
    v.page.locator(f"a[href='/console/policies/{policy_id}']").click()
    v.page.wait_for_url(f"**/console/policies/{policy_id}")
    v.check()
    assert "Summer display subsidy" in v.text()
    acknowledged = lambda: next(p for p in client.get("/api/v1/policies", headers=dealer.headers).json()
                                if p["id"] == policy_id)["acknowledged"]
    submit(v, f"form[action^='/console/policies/{policy_id}/acknowledge']", acknowledged)
    v.check()
    assert v.page.locator("form[action$='/acknowledge']").count() == 0

    v.check("/console/statements")
    v.page.locator(f"a[href='/console/statements/{statement['id']}']").click()
    v.page.wait_for_url(f"**/console/statements/{statement['id']}")
    v.check()
    assert "¥40.00" in v.text()
    status = lambda: client.get(f"/api/v1/statements/{statement['id']}", headers=dealer.headers).json()["status"]
    submit(v, f"form[action^='/console/statements/{statement['id']}/confirm']", lambda: status() == "confirmed")
    v.check()
    assert v.page.locator("form[action$='/confirm']").count() == 0

    for path in ("/console/rebates", "/console/tier", "/console/dashboard", "/console/policy-tasks"):
        v.check(path)

    # --- every page of the dealer, in each size and language ------------------------------------------
    pages = ["/console/orders", order_path, "/console/policies", f"/console/policies/{policy_id}",
             "/console/policy-tasks", "/console/statements", f"/console/statements/{statement['id']}",
             "/console/rebates", "/console/tier", "/console/dashboard"]
    for v in each_way(visit, dealer.user.username):
        for path in pages:
            v.check(path)
            if path == order_path:
                assert say(v, APPROVED) in v.text()
                assert not [w for w in RULE_WORDS if w in v.page.content()]
            if path == "/console/dashboard":
                assert say(v, "Your sales") in v.text()
