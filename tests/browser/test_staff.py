"""The staff's journeys in the browser: a credit manager approves an order from the inbox; HQ reads the
dashboard's charts, a policy, a diversion case, the tiering, the rules and the dealers; an account
manager its dashboard; finance starts a settlement and reads its statements. Each journey's pages are
then visited on a desktop and on a phone, in Chinese and in English."""
from __future__ import annotations

from ..policy_support import FUTURE, deploy_and_publish, delivered as policy_delivered, policy_yaml, unique
from ..settlement_support import delivered, deploy_program, program_yaml, region
from ..support import wait_until
from ..test_console_dashboard import shop  # noqa: F401  (the fixture: May 2026 sales in three regions)
from ..test_diversion import bind, case, load_codes, post_scans, register, scan
from .browsing import each_way, say, submit


def charts_drawn(v) -> None:
    """Every chart of the page drawn by ECharts (a canvas or an SVG inside each `.chart`)."""
    charts = v.page.locator(".chart")
    assert charts.count() >= 2, "the dashboard has no charts"
    v.page.wait_for_function("""() => [...document.querySelectorAll(".chart")]
        .every(c => c.querySelector("canvas, svg"))""", timeout=10_000)
    for n in range(charts.count()):
        box = charts.nth(n).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100 and box["x"] + box["width"] <= v.page.viewport_size["width"] + 1


def test_a_credit_manager_approves_an_order_from_the_inbox(client, visit, make_dealer, make_user, product):
    dealer, manager = make_dealer(rating="C"), make_user("credit_manager")  # rating C: a manual review
    r = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 3}]}, headers=dealer.headers)
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    task_id = wait_until(lambda: client.get(f"/api/v1/orders/{order_id}", headers=manager.headers).json()["review_task_id"])

    v = visit(manager.user.username, phone=True, locale="en")
    assert v.page.url.endswith("/console/tasks")
    v.check()
    link = v.page.locator(f"main a[href='/console/tasks/{task_id}']")
    if link.count() == 0:  # a long inbox (the whole test session's tasks): the order page links its review
        assert v.page.locator("main a[href^='/console/tasks/']").count() >= 50, "the review task is not in the inbox"
        v.check(f"/console/orders/{order_id}")
    v.page.locator(f"main a[href='/console/tasks/{task_id}']").first.click()
    v.page.wait_for_url(f"**/console/tasks/{task_id}")
    v.check()
    assert order_id[:8] in v.text() and dealer.dealer.code in v.text()
    v.page.fill("textarea[name=comment]", "rating C, paid on time this year")
    task = lambda: client.get(f"/api/v1/tasks/{task_id}", headers=manager.headers).json()
    submit(v, "main form", lambda: task()["status"] == "completed", button="button[name=outcome][value=approve]")
    v.check()
    wait_until(lambda: client.get(f"/api/v1/orders/{order_id}", headers=manager.headers).json()["status"]
               != "pending_review")

    v.check(f"/console/orders/{order_id}")
    assert "approved" in v.text() and manager.user.username in v.text()

    for v in each_way(visit, manager.user.username):
        for path in ("/console/tasks", "/console/tasks?status=completed", f"/console/tasks/{task_id}",
                     f"/console/orders/{order_id}", "/console/orders", "/console/cases"):
            v.check(path)
            if path == f"/console/orders/{order_id}":
                assert say(v, "approved") in v.text() and manager.user.username in v.text()


def test_hq_reads_the_dashboard_a_policy_a_case_the_tiering_the_rules_and_the_dealers(
        client, visit, make_user, product, sessions, shop):
    hq, admin = make_user("hq"), make_user("admin")
    dealer, away = shop["a"], unique("reg")
    policy_id = unique("p")
    deploy_and_publish(client, hq, policy_yaml(policy_id, f'dealer.region == "{shop["ra"]}"', title="Autumn window offer",
                                               ack="{required: true, deadline: 1h}", effective=FUTURE))
    batch_no = register(client, admin, product.sku, 6)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 6)
    [case_id] = post_scans(client, hq, [scan(c, away, price="80.00") for c in codes])["cases_opened"]
    wait_until(lambda: case(client, hq, case_id)["task_id"])
    policy_delivered(client, dealer, policy_id)
    dashboard = f"/console/dashboard?period=2026-05&category={shop['category']}"

    v = visit(hq.user.username)
    assert v.page.url.endswith("/console/dashboard")
    v.check(dashboard)
    charts_drawn(v)
    v.check("/console/policies")
    v.check(f"/console/policies/{policy_id}")  # (the list may be long and paged in a whole test session)
    assert "Autumn window offer" in v.text() and shop["ra"] in v.text()
    v.check(f"/console/cases?region={away}")
    v.page.locator(f"a[href='/console/cases/{case_id}']").click()
    v.page.wait_for_url(f"**/console/cases/{case_id}")
    v.check()
    assert codes[0] in v.text() and dealer.dealer.code in v.text()
    v.check("/console/tiering")
    v.check("/console/rules")
    assert policy_id in v.text() and "credit_approval" not in v.text()  # HQ deploys the policy rulesets only
    v.check("/console/dealers")
    v.page.fill("input[name=q]", dealer.dealer.code)
    with v.page.expect_navigation():
        v.page.locator("form[role=search] button[type=submit]").click()
    v.check()
    assert dealer.dealer.code in v.page.locator("main table").inner_text()
    assert shop["b"].dealer.code not in v.text()

    pages = [dashboard, "/console/tasks", "/console/policies", f"/console/policies/{policy_id}",
             f"/console/cases?region={away}", f"/console/cases/{case_id}", "/console/tiering", "/console/rules",
             f"/console/dealers?q={dealer.dealer.code}", "/console/settlements"]
    for v in each_way(visit, hq.user.username):
        for path in pages:
            v.check(path)
            if path == dashboard:
                charts_drawn(v)
                assert say(v, "Top 10 products") in v.text()


def test_an_account_manager_reads_the_dashboard_the_tiering_and_the_cases(visit, shop):
    am = shop["am"]
    for v in each_way(visit, am.user.username):
        assert v.page.url.endswith("/console/tasks")
        v.check()
        v.check(f"/console/dashboard?period=2026-05&category={shop['category']}")
        charts_drawn(v)
        assert shop["rb"] not in v.text()  # the figures of the manager's own dealers only
        v.check("/console/tiering")
        v.check("/console/cases")


def test_finance_starts_a_settlement_and_reads_its_statements(client, visit, make_dealer, make_user, product,
                                                              sessions):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealer, neighbour = make_dealer(region=reg), make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("fin"), reg, confirm="1h"))
    delivered(sessions, dealer, product, 40, "2025-05-10")
    delivered(sessions, neighbour, product, 60, "2025-06-10")
    run_id = f"{program}:2025-Q2"

    v = visit(finance.user.username)
    assert v.page.url.endswith("/console/tasks")
    v.check("/console/settlements")
    v.page.select_option("select[name=program]", program)
    v.page.fill("input[name=period]", "2025-Q2")
    with v.page.expect_navigation():
        v.page.locator("form[action='/console/settlements'] button[type=submit]").click()
    run = lambda: client.get(f"/api/v1/settlements/{run_id}", headers=finance.headers)
    wait_until(lambda: run().status_code == 200 and run().json()["stage"] == "awaiting_confirmation", timeout=30)
    settlement = f"/console/settlements/{program}%3A2025-Q2"
    v.check(settlement)
    assert dealer.dealer.code in v.text() and neighbour.dealer.code in v.text()
    statements = client.get("/api/v1/statements", params={"run": run_id}, headers=finance.headers).json()
    mine = next(s for s in statements if s["dealer_code"] == dealer.dealer.code)
    v.check(f"/console/statements?run={run_id}")
    v.page.locator(f"a[href='/console/statements/{mine['id']}']").click()
    v.page.wait_for_url(f"**/console/statements/{mine['id']}")
    v.check()
    assert "¥40.00" in v.text() and v.page.locator("form[action$='/confirm']").count() == 0  # finance only reads

    for v in each_way(visit, finance.user.username):
        for path in ("/console/settlements", settlement, f"/console/statements?run={run_id}",
                     f"/console/statements/{mine['id']}", "/console/tasks"):
            v.check(path)
