"""The console a person uses: log in, see the inbox, decide a task, read an order's explanation."""
from __future__ import annotations

from fastapi.testclient import TestClient

from .support import PASSWORD, wait_until, send_csrf


def login(client: TestClient, username: str) -> None:
    send_csrf(client)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD, "next": "/console/tasks"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "dealerflow_token" in r.cookies or "dealerflow_token" in client.cookies


def test_console_needs_a_login(client):
    r = client.get("/console/tasks", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    send_csrf(client)
    bad = client.post("/console/login", data={"username": "nobody", "password": "x"})
    assert bad.status_code == 401 and "Wrong username or password" in bad.text


def test_approver_decides_in_the_console_and_the_order_page_explains(client, make_dealer, make_user, product):
    dealer, approver = make_dealer(rating="C"), make_user("credit_manager")
    placed = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 2}]},
                         headers=dealer.headers).json()
    task_id = wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=approver.headers)
                         .json()["review_task_id"])
    login(client, approver.user.username)
    inbox = wait_until(lambda: (r := client.get("/console/tasks")).status_code == 200 and task_id in r.text and r)
    assert f"Credit review: {dealer.dealer.code}" in inbox.text
    page = client.get(f"/console/tasks/{task_id}")
    assert page.status_code == 200
    assert "needs a credit manager" in page.text and "credit_approval v" in page.text
    assert 'name="outcome" value="approve"' in page.text
    r = client.post(f"/console/tasks/{task_id}", data={"outcome": "approve", "comment": "ok by phone"},
                    follow_redirects=False)
    assert r.status_code == 303
    again = client.post(f"/console/tasks/{task_id}", data={"outcome": "reject"})
    assert again.status_code == 409 and "already completed" in again.text
    wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers).json()["status"] == "approved")
    order_page = client.get(f"/console/orders/{placed['id']}")
    assert "ok by phone" in order_page.text and "pending_review" in order_page.text
    assert "dealer.rating = C" in order_page.text


def test_dealer_places_an_order_from_the_console_and_cannot_open_others(client, make_dealer, product):
    dealer, other = make_dealer(), make_dealer()
    login(client, dealer.user.username)
    r = client.post("/console/orders", data={"sku": product.sku, "quantity": "3"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "¥300.00" in page.text
    # The dealer reads the decision in business words; the rule's name and facts stay on staff pages.
    assert "Approved automatically: within your credit limit." in page.text
    assert "approve-within-headroom" not in page.text and "Facts used" not in page.text
    theirs = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                         headers=other.headers).json()
    assert client.get(f"/console/orders/{theirs['id']}").status_code == 404
