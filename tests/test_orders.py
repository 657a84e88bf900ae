"""The first vertical slice end to end: API → order workflow → credit rules → human task → final state,
on the real PostgreSQL and Temporal dev server."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from dealerflow.models import Decision, Order

from .support import wait_until


def order(client, actor, product, quantity, **headers):
    return client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": quantity}]},
                       headers={**actor.headers, **headers})


def test_order_within_headroom_is_approved_with_its_explanation(client, make_dealer, product, sessions):
    dealer = make_dealer(credit_limit=Decimal("1000.00"), outstanding=Decimal("400.00"), rating="B")
    r = order(client, dealer, product, 6)  # 600.00 == headroom exactly
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "approved"
    assert body["amount"] == "600.00"
    d = body["decision"]
    assert (d["ruleset"], d["rule"], d["outcome"]["decision"]) == ("credit_approval", "approve-within-headroom", "approve")
    assert d["version"] >= 1
    assert d["facts"]["order.amount"] == "600.00" and d["facts"]["dealer.outstanding"] == "400.00"
    assert [e["status"] for e in body["history"]] == ["submitted", "approved"]
    with sessions() as s:  # stored with its explanation
        stored = s.scalars(select(Decision).where(Decision.subject_id == body["id"])).one()
        assert stored.explanation["rule"] == "approve-within-headroom"


def test_long_overdue_dealer_is_rejected_even_within_headroom(client, make_dealer, product):
    dealer = make_dealer(overdue_days=91)
    body = order(client, dealer, product, 1).json()
    assert body["status"] == "rejected"
    assert body["decision"]["rule"] == "reject-long-overdue"
    assert "approve-within-headroom" in [m["name"] for m in body["decision"]["matched"]]


def test_review_then_approval_by_credit_manager(client, make_dealer, make_user, product):
    dealer = make_dealer(rating="C")
    approver, hq = make_user("credit_manager"), make_user("hq")
    placed = order(client, dealer, product, 3).json()
    assert placed["status"] == "pending_review"
    assert placed["decision"]["rule"] == "default"

    inbox = wait_until(lambda: [t for t in client.get("/api/v1/tasks?status=open", headers=approver.headers).json()
                                if t["subject_id"] == placed["id"]])
    task = inbox[0]
    assert task["assignee_role"] == "credit_manager" and task["outcomes"] == ["approve", "reject"]
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"},
                       headers=hq.headers).status_code == 403
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"},
                       headers=dealer.headers).status_code == 404
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "maybe"},
                       headers=approver.headers).status_code == 422
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve", "comment": "known customer"},
                       headers=approver.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["completed_by"] == approver.user.username
    assert [h["action"] for h in done.json()["history"]] == ["opened", "completed"]
    again = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "reject"}, headers=approver.headers)
    assert again.status_code == 409

    final = wait_until(lambda: (o := client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers).json())
                       ["status"] == "approved" and o)
    assert [e["status"] for e in final["history"]] == ["submitted", "pending_review", "approved"]
    assert "known customer" in final["history"][-1]["note"]
    assert final["history"][-1]["actor"] == approver.user.username


def test_review_rejected(client, make_dealer, make_user, product):
    dealer, approver = make_dealer(rating="D"), make_user("credit_manager")
    placed = order(client, dealer, product, 1).json()
    task_id = wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=approver.headers)
                         .json()["review_task_id"])
    wait_until(lambda: client.get(f"/api/v1/tasks/{task_id}", headers=approver.headers).status_code == 200)
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "reject"}, headers=approver.headers)
    assert r.status_code == 200, r.text
    wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers).json()["status"] == "rejected")


def test_concurrent_orders_cannot_share_the_same_headroom(client, make_dealer, product, sessions):
    dealer = make_dealer(credit_limit=Decimal("1000.00"))
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: order(client, dealer, product, 3), range(10)))  # 10 × 300.00
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    statuses = sorted(r.json()["status"] for r in results)
    assert statuses.count("approved") == 3 and statuses.count("pending_review") == 7
    with sessions() as s:
        held = s.scalar(select(func.sum(Order.amount)).where(Order.dealer_id == dealer.dealer.id,
                                                             Order.status == "approved"))
    assert held == Decimal("900.00")


def test_idempotency_key_returns_the_first_order(client, make_dealer, product, sessions):
    dealer = make_dealer()
    key = str(uuid.uuid4())
    first = order(client, dealer, product, 2, **{"Idempotency-Key": key})
    second = order(client, dealer, product, 2, **{"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["decision"] == first.json()["decision"]
    with ThreadPoolExecutor(4) as pool:  # racing resubmissions of a new key also make one order
        key2 = str(uuid.uuid4())
        racing = list(pool.map(lambda _: order(client, dealer, product, 1, **{"Idempotency-Key": key2}), range(4)))
    assert len({r.json()["id"] for r in racing}) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order).where(Order.dealer_id == dealer.dealer.id)) == 2


def test_cancel_releases_headroom_and_a_new_order_is_decided_again(client, make_dealer, product):
    dealer = make_dealer(credit_limit=Decimal("1000.00"))
    first = order(client, dealer, product, 8).json()
    assert first["status"] == "approved"
    assert order(client, dealer, product, 3).json()["status"] == "pending_review"
    r = client.post(f"/api/v1/orders/{first['id']}/cancel", headers=dealer.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/orders/{first['id']}/cancel", headers=dealer.headers).status_code == 409
    assert order(client, dealer, product, 3).json()["status"] == "approved"


def test_bad_input_is_422_naming_the_field_and_writes_nothing(client, make_dealer, product, sessions):
    dealer = make_dealer()
    h = dealer.headers
    cases = [
        (client.post("/api/v1/orders", content=b'{"lines": [', headers={**h, "Content-Type": "application/json"}), "body"),
        (client.post("/api/v1/orders", json={}, headers=h), "lines"),
        (client.post("/api/v1/orders", json={"lines": []}, headers=h), "lines"),
        (client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 0}]}, headers=h), "lines[0].quantity"),
        (client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": -2}]}, headers=h), "lines[0].quantity"),
        (client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": "2"}]}, headers=h), "lines[0].quantity"),
        (client.post("/api/v1/orders", json={"lines": [{"sku": product.sku}]}, headers=h), "lines[0].quantity"),
        (client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1},
                                                       {"sku": "NOPE-404", "quantity": 1}]}, headers=h), "lines[1].sku"),
    ]
    for response, field in cases:
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.json())
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order).where(Order.dealer_id == dealer.dealer.id)) == 0


def test_a_dealer_sees_only_its_own_orders(client, make_dealer, make_user, product):
    a, b = make_dealer(), make_dealer()
    placed = order(client, a, product, 1).json()
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=b.headers).status_code == 404
    assert client.get("/api/v1/orders/not-a-uuid", headers=b.headers).status_code == 404
    assert client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=b.headers).status_code == 404
    assert [o["id"] for o in client.get("/api/v1/orders", headers=b.headers).json()] == []
    assert [o["id"] for o in client.get("/api/v1/orders", headers=a.headers).json()] == [placed["id"]]
    hq = make_user("hq")
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=hq.headers).status_code == 200
    assert order(client, hq, product, 1).status_code == 403  # only dealers place orders


def test_level1_dealer_sees_its_level2_dealers_orders(client, make_dealer, product, sessions):
    parent = make_dealer()
    child = make_dealer(level=2, parent_id=parent.dealer.id)
    placed = order(client, child, product, 1).json()
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=parent.headers).status_code == 200
    parent_order = order(client, parent, product, 1).json()
    assert client.get(f"/api/v1/orders/{parent_order['id']}", headers=child.headers).status_code == 404


def test_order_workflow_is_searchable_by_its_attributes(client, make_dealer, product, settings):
    import asyncio
    from dealerflow.core.temporal import connect

    dealer = make_dealer(region="southwest")
    placed = order(client, dealer, product, 1).json()

    async def find():
        c = await connect(settings)
        query = f"OrderId = '{placed['id']}' AND DealerId = '{dealer.dealer.code}' AND Region = 'southwest'"
        return [w async for w in c.list_workflows(query)]

    found = wait_until(lambda: (ws := asyncio.run(find())) and ws[0].typed_search_attributes and ws)
    assert found[0].id == f"order-{placed['id']}"


def test_an_idempotency_key_sent_with_another_body_is_refused_naming_the_header(client, make_dealer, product, sessions):
    dealer = make_dealer()
    key = str(uuid.uuid4())
    first = order(client, dealer, product, 2, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    other = order(client, dealer, product, 3, **{"Idempotency-Key": key})
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["field"] == "Idempotency-Key" and "Idempotency-Key" in other.json()["detail"]
    # Racing requests with one key: every success is the same order, of the body it was placed with;
    # a request with the other body is refused.
    key2 = str(uuid.uuid4())
    with ThreadPoolExecutor(4) as pool:
        racing = list(pool.map(lambda q: order(client, dealer, product, q, **{"Idempotency-Key": key2}), (1, 1, 4, 4)))
    placed = [r for r in racing if r.status_code in (200, 201)]
    assert placed and all(r.status_code == 422 for r in racing if r not in placed), [r.text for r in racing]
    assert len({r.json()["id"] for r in placed}) == 1 and len({r.json()["amount"] for r in placed}) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order).where(Order.dealer_id == dealer.dealer.id)) == 2
