"""Attacks on logins, tokens, passwords and the console, and the defences that stop them."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from dealerflow.core import security
from dealerflow.models import RevokedToken

from .support import PASSWORD, send_csrf


@pytest.fixture
def browser(client):
    """Another client of the same app, from an address of its own: throttling counts per address."""
    def make() -> TestClient:
        return TestClient(client.app, client=(f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 40000),
                          headers={"Accept-Language": "en"})
    return make


def token_login(c: TestClient, username: str, password: str):
    return c.post("/api/v1/auth/token", data={"username": username, "password": password})


def console_login(c: TestClient, username: str, password: str = PASSWORD):
    send_csrf(c)
    return c.post("/console/login", data={"username": username, "password": password}, follow_redirects=False)


# 1. Login throttling

def test_an_account_is_locked_after_five_failures_and_answers_429_with_retry_after(browser, make_user):
    hq = make_user("hq")
    c = browser()
    for _ in range(5):
        assert token_login(c, hq.user.username, "wrong-password").status_code == 401
    locked = token_login(c, hq.user.username, PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert locked.json()["status"] == 429 and "too many failed logins" in locked.json()["detail"]
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    # From another address too (the lock is the account's), and in the console.
    other = browser()
    assert token_login(other, hq.user.username, PASSWORD).status_code == 429
    page = console_login(other, hq.user.username)
    assert page.status_code == 429 and "Retry-After" in page.headers and "Too many failed logins" in page.text
    # Another account is not affected.
    assert token_login(other, make_user("hq").user.username, PASSWORD).status_code == 200


def test_a_successful_login_clears_the_accounts_failures(browser, make_user):
    hq = make_user("hq")
    c = browser()
    for _ in range(4):
        assert token_login(c, hq.user.username, "wrong-password").status_code == 401
    assert token_login(c, hq.user.username, PASSWORD).status_code == 200
    for _ in range(4):
        assert token_login(c, hq.user.username, "wrong-password").status_code == 401
    assert token_login(c, hq.user.username, PASSWORD).status_code == 200


def test_an_address_is_locked_after_twenty_failures_across_accounts(browser, make_user):
    c = browser()
    for i in range(20):
        assert token_login(c, f"nobody-{uuid.uuid4().hex[:8]}", "wrong-password").status_code == 401
    hq = make_user("hq")
    r = token_login(c, hq.user.username, PASSWORD)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert console_login(c, hq.user.username).status_code == 429
    assert token_login(browser(), hq.user.username, PASSWORD).status_code == 200  # elsewhere it works


# 2. No answer tells whether a user exists

def test_an_unknown_user_costs_the_same_bcrypt_check_as_a_known_one(browser, make_user, monkeypatch):
    checks = []
    real = security.bcrypt.checkpw
    monkeypatch.setattr(security.bcrypt, "checkpw", lambda pw, h: checks.append(h) or real(pw, h))
    hq, c = make_user("hq"), browser()
    known = token_login(c, hq.user.username, "wrong-password")
    unknown = token_login(c, f"nobody-{uuid.uuid4().hex[:8]}", "wrong-password")
    assert known.status_code == unknown.status_code == 401 and known.json() == unknown.json()
    assert len(checks) == 2 and checks[0][:7] == checks[1][:7]  # both checked, at the same cost ($2b$10$)


# 3. Passwords: bcrypt's limit and the policy

@pytest.mark.parametrize("password", ["a" * 73, "密码" * 15, "é" * 37, "abcdefghij\ud800"])
def test_a_password_bcrypt_cannot_take_whole_is_refused_naming_the_field(client, make_user, password):
    admin = make_user("admin")
    body = json.dumps({"username": f"u{uuid.uuid4().hex[:8]}", "password": password, "role": "hq"})  # "\ud800" escaped
    r = client.post("/api/v1/users", headers={**admin.headers, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "password"
    assert "72 bytes" in r.json()["detail"] or "\ud800" in password  # pydantic refuses a lone surrogate itself


def test_an_over_long_login_password_is_a_failed_login(browser, make_user):
    hq, c = make_user("hq"), browser()
    assert token_login(c, hq.user.username, "密" * 30).status_code == 401
    assert token_login(c, hq.user.username, PASSWORD + "x" * 100).status_code == 401
    assert console_login(c, hq.user.username, "x" * 300).status_code == 401
    assert token_login(c, hq.user.username, PASSWORD).status_code == 200


@pytest.mark.parametrize("password, why", [
    ("short-1", "at least 10"), ("1234567890123", "digits only"), ("aaaaaaaaaaaa", "repeat"),
    ("password123", "common"), ("Password2024!", "common"), ("qwertyuiop", "common"), ("1q2w3e4r5t", "common"),
    ("{username}", "username"), ("{username}-2024", "username"),
])
def test_weak_passwords_are_refused_at_user_creation(client, make_user, password, why):
    admin, username = make_user("admin"), f"user{uuid.uuid4().hex[:8]}k"  # never "user" + digits: a common one
    r = client.post("/api/v1/users", headers=admin.headers,
                    json={"username": username, "password": password.format(username=username), "role": "hq"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "password" and why in r.json()["detail"]
    good = client.post("/api/v1/users", headers=admin.headers,
                       json={"username": username, "password": "tall-oak-window-7", "role": "hq"})
    assert good.status_code == 201, good.text


# 4. Tokens: required claims, revocation at logout

@pytest.mark.parametrize("drop", ["exp", "iat", "jti", "sub"])
def test_a_token_without_a_required_claim_is_refused(client, make_user, stack_settings, drop):
    hq = make_user("hq")
    now = datetime.now(timezone.utc)
    claims = {"sub": hq.user.username, "role": "hq", "iat": now, "exp": now + timedelta(hours=1),
              "jti": uuid.uuid4().hex}
    del claims[drop]
    token = jwt.encode(claims, stack_settings.secret_key, algorithm="HS256")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    expired = jwt.encode({**claims, "sub": hq.user.username, "jti": "x", "exp": now - timedelta(seconds=1),
                          "iat": now - timedelta(hours=1)}, stack_settings.secret_key, algorithm="HS256")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert client.get("/api/v1/me", headers=hq.headers).status_code == 200


def test_api_logout_revokes_the_token_and_prunes_expired_revocations(client, make_user, sessions):
    hq = make_user("hq")
    old = uuid.uuid4().hex
    with sessions.begin() as s:
        s.execute(insert(RevokedToken).values(jti=old, expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
    token = token_login(client, hq.user.username, PASSWORD).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 401
    assert client.get("/api/v1/me", headers=hq.headers).status_code == 200  # other tokens of the user still work
    with sessions() as s:
        assert s.get(RevokedToken, old) is None
        revoked = s.get(RevokedToken, jwt.decode(token, options={"verify_signature": False})["jti"])
        assert revoked is not None and revoked.expires_at > datetime.now(timezone.utc) + timedelta(hours=11)


def test_console_logout_revokes_the_cookie_token(browser, make_user):
    hq, c = make_user("hq"), browser()
    assert console_login(c, hq.user.username).status_code == 303
    token = c.cookies["dealerflow_token"]
    assert c.get("/console/tasks", follow_redirects=False).status_code == 200
    out = c.post("/console/logout", follow_redirects=False)
    assert out.status_code == 303 and "dealerflow_token" not in c.cookies
    thief = browser()
    thief.cookies.set("dealerflow_token", token)
    assert thief.get("/console/tasks", follow_redirects=False).status_code == 303
    assert client_me(thief, token) == 401


def client_me(c: TestClient, token: str) -> int:
    return c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


# 5. Cookies, CSRF, headers

def test_the_console_cookie_is_httponly_lax_and_secure_when_configured(client, make_user, settings, worker):
    hq = make_user("hq")
    r = console_login(client, hq.user.username)
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("dealerflow_token="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    from api.app import create_app
    with TestClient(create_app(settings.with_(secure_cookies=True)), base_url="https://testserver") as c:
        r = console_login(c, hq.user.username)
        cookies = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
        assert cookies and all("Secure" in v and "HttpOnly" in v for v in cookies), cookies
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_console_forms_need_the_csrf_token(browser, make_user, make_dealer, product):
    dealer, c = make_dealer(), browser()
    # Logging in needs it too (no login CSRF): a cross-site post has the cookie at best, not the field.
    c.get("/console/login")
    r = c.post("/console/login", data={"username": dealer.user.username, "password": PASSWORD},
               follow_redirects=False)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "csrf_token"
    page = c.get("/console/login")
    field = f'name="csrf_token" value="{c.cookies["dealerflow_csrf"]}"'
    assert field in page.text
    r = c.post("/console/login", data={"username": dealer.user.username, "password": PASSWORD,
                                       "csrf_token": c.cookies["dealerflow_csrf"]}, follow_redirects=False)
    assert r.status_code == 303
    orders = c.get("/console/orders")
    token = c.cookies["dealerflow_csrf"]
    assert orders.text.count(f'name="csrf_token" value="{token}"') == 2  # the order form and the logout form
    for data in ({}, {"csrf_token": "forged-token-value-0123456789"}):
        r = c.post("/console/orders", data={"sku": product.sku, "quantity": "1", **data}, follow_redirects=False)
        assert r.status_code == 403
    r = c.post("/console/orders", data={"sku": product.sku, "quantity": "1", "csrf_token": token},
               follow_redirects=False)
    assert r.status_code == 303
    assert c.post("/console/logout", follow_redirects=False).status_code == 403
    assert c.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303


def test_api_calls_authenticated_by_the_cookie_need_the_csrf_header(browser, make_dealer, product):
    dealer, c = make_dealer(), browser()
    assert console_login(c, dealer.user.username).status_code == 303
    c.event_hooks["request"] = []  # stop sending the header
    body = {"lines": [{"sku": product.sku, "quantity": 1}]}
    assert c.get("/api/v1/me").status_code == 200  # reading needs no token
    assert c.post("/api/v1/orders", json=body).status_code == 403
    assert c.post("/api/v1/orders", json=body, headers={"X-CSRF-Token": c.cookies["dealerflow_csrf"]}).status_code == 201
    assert c.post("/api/v1/orders", json=body, headers=dealer.headers).status_code == 201  # bearer: exempt


def test_every_response_carries_the_security_headers(client, make_user):
    hq = make_user("hq")
    for path, headers in (("/console/login", {}), ("/api/v1/me", hq.headers), ("/api/v1/nothing", {}),
                          ("/static/console.css", {})):
        r = client.get(path, headers=headers)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "same-origin", path
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
    docs = client.get("/docs")
    assert docs.status_code == 200 and "http" not in docs.headers["Content-Security-Policy"]  # assets are local


def test_console_templates_carry_no_inline_code():
    import base64
    import hashlib
    import re
    from pathlib import Path

    from api.security import CSP, PRINT_CSS
    assert f"'sha256-{base64.b64encode(hashlib.sha256(PRINT_CSS.encode()).digest()).decode()}'" in CSP
    for page in (Path(__file__).parent.parent / "api" / "templates").glob("*.html"):
        text = page.read_text()
        # Data blocks for charts (type="application/json") are never executed; their content is |tojson,
        # which escapes <, > and &, so it cannot close the element.
        for data in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S):
            assert re.fullmatch(r"\{\{.*\|tojson \}\}", data, re.S), (page.name, data)
        assert not re.search(r'<script(?![^>]*\b(src=|type="application/json"))', text), page.name
        text = text.replace("<style>{{ print_css }}</style>", "")  # the one inline style, allowed by its hash
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), page.name
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>", text):
            assert text.split(form, 1)[1].lstrip().startswith("{{ csrf_input() }}"), (page.name, form)
