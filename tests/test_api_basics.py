"""Login, roles, master data and health."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from dealerflow.models import User
from dealerflow.core.security import verify_password

from .support import PASSWORD


def test_password_login_issues_a_bearer_token(client, make_user):
    hq = make_user("hq")
    r = client.post("/api/v1/auth/token", data={"username": hq.user.username, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json() == {"username": hq.user.username, "role": "hq", "dealer_code": None}
    bad = client.post("/api/v1/auth/token", data={"username": hq.user.username, "password": "wrong-password"})
    assert bad.status_code == 401
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer forged.token.value"}).status_code == 401


def test_admin_creates_master_data_with_exact_money_and_hashed_passwords(client, make_user, sessions):
    admin = make_user("admin")
    code, sku, name = f"D{uuid.uuid4().hex[:8]}", f"WIN-{uuid.uuid4().hex[:6]}", f"u{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/dealers", headers=admin.headers, json={
        "code": code, "name": "Chengdu Anju Windows", "region": "southwest", "tier": "key",
        "credit_limit": "150000.10", "outstanding": "1234.56", "rating": "B", "overdue_days": 0})
    assert r.status_code == 201, r.text
    assert r.json()["credit_limit"] == "150000.10" and r.json()["outstanding"] == "1234.56"
    r = client.post("/api/v1/products", headers=admin.headers,
                    json={"sku": sku, "name": "Tilt-and-turn window", "category": "window", "unit_price": "1999.99"})
    assert r.status_code == 201 and r.json()["unit_price"] == "1999.99"
    r = client.post("/api/v1/users", headers=admin.headers,
                    json={"username": name, "password": "s3cret-pass", "role": "dealer", "dealer_code": code})
    assert r.status_code == 201 and r.json()["dealer_code"] == code
    with sessions() as s:
        stored = s.scalars(select(User).where(User.username == name)).one()
    assert stored.password_hash != "s3cret-pass" and verify_password("s3cret-pass", stored.password_hash)
    token = client.post("/api/v1/auth/token", data={"username": name, "password": "s3cret-pass"}).json()
    r = client.post("/api/v1/orders", json={"lines": [{"sku": sku, "quantity": 3}]},
                    headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 201 and r.json()["amount"] == "5999.97"
    # Duplicates and bad values are refused, naming the field.
    assert client.post("/api/v1/dealers", headers=admin.headers,
                       json={"code": code, "name": "x", "region": "east"}).status_code == 409
    bad = client.post("/api/v1/dealers", headers=admin.headers,
                      json={"code": "Z1", "name": "x", "region": "east", "credit_limit": "12.345"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "credit_limit"
    bad = client.post("/api/v1/users", headers=admin.headers,
                      json={"username": "nodealer", "password": "long-enough", "role": "dealer"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "dealer_code"


def test_master_data_endpoints_check_the_role(client, make_user, make_dealer):
    dealer, hq = make_dealer(), make_user("hq")
    for actor in (dealer, hq):
        assert client.post("/api/v1/dealers", headers=actor.headers,
                           json={"code": "X1", "name": "x", "region": "east"}).status_code == 403
        assert client.post("/api/v1/users", headers=actor.headers,
                           json={"username": "xx", "password": "long-enough", "role": "hq"}).status_code == 403
    other = make_dealer()
    assert client.get(f"/api/v1/dealers/{other.dealer.code}", headers=dealer.headers).status_code == 404
    assert client.get(f"/api/v1/dealers/{dealer.dealer.code}", headers=dealer.headers).status_code == 200
    assert client.get("/api/v1/dealers", headers=dealer.headers).status_code == 403


def test_health_reports_database_and_temporal(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "temporal": "ok"}
