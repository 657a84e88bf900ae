"""Bad input, found by fuzzing, answers a 4xx in the one problem+json shape, naming what is wrong and
where, and changes nothing; nothing answers a 500."""
from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from dealerflow.models import Order, Product

PROBLEM = "application/problem+json"


def _refused(r, status: int = 422, field: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["detail"] and body["errors"], body
    if field is not None:
        assert field in [e.get("field") for e in body["errors"]], body
    return body


def test_a_nul_character_anywhere_is_refused_naming_where(client, make_dealer, make_user, product, sessions):
    dealer, admin = make_dealer(), make_user("admin")
    _refused(client.get("/api/v1/orders", params={"status": "open\x00"}, headers=dealer.headers), field="status")
    _refused(client.get("/api/v1/dealers", params={"region": "\x00"}, headers=admin.headers), field="region")
    _refused(client.get("/api/v1/orders/a%00b", headers=dealer.headers), field="path")
    _refused(client.get("/api/v1/codes/X%00Y/trace", headers=admin.headers), field="path")
    _refused(client.get("/api/v1/me", headers={**dealer.headers, "X-Trace": "a\x00b"}), field="header x-trace")
    _refused(client.post("/api/v1/orders", json={"lines": [{"sku": "a\x00", "quantity": 1}]}, headers=dealer.headers),
             field="lines[0].sku")
    _refused(client.post("/api/v1/auth/token", data={"username": "x\x00", "password": "p"}), field="username")
    code = f"P{uuid.uuid4().hex[:8]}"
    _refused(client.post("/api/v1/products", json={"sku": code, "name": "Door\x00", "category": "door",
                                                   "unit_price": "1.00"}, headers=admin.headers), field="name")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Product).where(Product.sku == code)) == 0


def test_integers_beyond_64_bits_and_negative_limits_are_refused_with_their_bounds(client, make_user, make_dealer):
    admin, dealer = make_user("admin"), make_dealer()
    huge = str(2**64)
    _refused(client.get("/api/v1/cases", params={"offset": huge}, headers=admin.headers), field="offset")
    _refused(client.get("/api/v1/dealers", params={"offset": huge}, headers=admin.headers), field="offset")
    _refused(client.get("/api/v1/payments", params={"offset": huge}, headers=admin.headers), field="offset")
    _refused(client.get("/api/v1/notifications", params={"limit": -1}, headers=dealer.headers), field="limit")
    _refused(client.get(f"/api/v1/evidence/{huge}", headers=admin.headers), field="evidence_id")
    _refused(client.post("/api/v1/codes/bind", json={"batch_no": "B1", "first": 1, "last": 2**40, "dealer": "X"},
                         headers=admin.headers), field="last")


def test_dates_at_the_ends_of_the_calendar_are_answered_or_refused_naming_the_field(client, make_user):
    admin = make_user("admin")
    assert client.get("/api/v1/payments", params={"to": "9999-12-31"}, headers=admin.headers).status_code == 200
    assert client.get("/api/v1/returns", params={"to": "9999-12-31"}, headers=admin.headers).status_code == 200
    r = client.post(f"/api/v1/orders/{uuid.uuid4()}/ship", json={"at": "0001-01-01T00:00:00+14:00"},
                    headers=admin.headers)
    assert r.status_code in (404, 422), r.text  # never a 500: an unknown order, or the time out of range
    body = client.post("/api/v1/scans", json=[{"scan_id": "s1", "code": "C", "region": "east", "kind": "store",
                                               "scanned_at": "0001-01-01T00:00:00+14:00"}], headers=admin.headers)
    assert body.status_code == 200, body.text
    assert body.json()["problems"][0]["field"] == "scanned_at" and "out of range" in body.json()["problems"][0]["message"]


def test_an_order_too_large_for_its_amount_is_refused_before_anything_starts(client, make_dealer, sessions):
    dealer = make_dealer()
    with sessions.begin() as s:
        p = Product(sku=f"SKU-{uuid.uuid4().hex[:8]}", name="Villa facade", category="door",
                    unit_price=Decimal("9999999.99"))
        s.add(p)
    r = client.post("/api/v1/orders", json={"lines": [{"sku": p.sku, "quantity": 1_000_000}]},
                    headers=dealer.headers)
    _refused(r, field="lines")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order).where(Order.dealer_id == dealer.dealer.id)) == 0
    _refused(client.post("/api/v1/orders", json={"lines": [{"sku": p.sku, "quantity": 1_000_001}]},
                         headers=dealer.headers), field="lines[0].quantity")


def test_json_nested_too_deeply_is_refused(client, make_user):
    admin = make_user("admin")
    deep = b"[" * 100_000 + b"]" * 100_000
    r = client.post("/api/v1/scans", content=deep, headers={**admin.headers, "Content-Type": "application/json"})
    _refused(r, field="body")
    r = client.post("/api/v1/codes/bind", content=b'{"codes": ' + deep + b"}",
                    headers={**admin.headers, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith(PROBLEM), r.text


def test_an_unexpected_error_answers_a_problem_without_internals(client):
    app = client.app

    @app.get("/api/v1/_boom", include_in_schema=False)
    def boom():
        raise RuntimeError("secret internals")

    from fastapi.testclient import TestClient
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/_boom")
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert "secret" not in r.text and r.json()["title"] == "Internal Server Error"
