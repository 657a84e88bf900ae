"""The administrator's console: rule files (read, compare, validate with errors at their lines, deploy with
the API's rights), master data (search, paging, edits that keep the form on a refusal), the page of
scheduled processes, and the API documentation served without a CDN."""
from __future__ import annotations

import base64
import hashlib
import re
import uuid
from decimal import Decimal
from html import unescape
from pathlib import Path

from dealerflow.models import Dealer

from .policy_support import deploy, policy_yaml, unique
from .support import send_csrf

STATIC = Path(__file__).parent.parent / "api" / "static"


def as_user(client, actor) -> None:
    """The console as `actor`: their token as the console's cookie, and the CSRF token sent along."""
    client.cookies.set("dealerflow_token", actor.headers["Authorization"][7:])
    send_csrf(client)


def field(html: str, name: str) -> str:
    """The value of the form field `name` as the page shows it."""
    match = re.search(rf'<input type="[a-z]+" name="{name}" value="([^"]*)"', html)
    assert match, f"no field {name}"
    return unescape(match.group(1))


def hidden(html: str, name: str) -> str:
    return unescape(re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html).group(1))


# --- rule files ----------------------------------------------------------------------------------

def test_rule_files_are_listed_read_highlighted_and_compared(client, make_user):
    admin = make_user("admin")
    policy_id = unique("p")
    assert deploy(client, admin, policy_yaml(policy_id, "dealer.level == 9")).status_code == 201
    assert deploy(client, admin, policy_yaml(policy_id, "dealer.level == 9", title="Summer display")).status_code == 201
    as_user(client, admin)

    listing = client.get("/console/rules")
    assert listing.status_code == 200
    row = re.search(rf"<tr>\s*<td[^>]*><a href=\"/console/rules/{policy_id}\">.*?</tr>", listing.text, re.S).group(0)
    assert "policy" in row and "v2" in row and admin.user.username in row
    assert "credit_approval" in listing.text  # an admin sees every kind

    read = client.get(f"/console/rules/{policy_id}")
    assert read.status_code == 200
    assert '<span class="nt">ruleset</span>' in read.text  # highlighted by Pygments, with classes
    assert 'id="L4"' in read.text and "Summer display" in read.text
    assert " style=" not in read.text  # the CSP allows no inline style
    assert '/static/pygments.css' in read.text and (STATIC / "pygments.css").read_text().count(".highlight") > 10
    first = client.get(f"/console/rules/{policy_id}?version=1")
    assert "Spring display subsidy" in first.text and "Summer display" not in first.text

    diff = client.get(f"/console/rules/{policy_id}/diff?old=1&new=2")
    assert diff.status_code == 200
    removed = re.findall(r'<tr class="removed">.*?</tr>', diff.text, re.S)
    added = re.findall(r'<tr class="added">.*?</tr>', diff.text, re.S)
    assert len(removed) == 1 and "Spring display subsidy" in removed[0]
    assert len(added) == 1 and "Summer display" in added[0]
    assert client.get(f"/console/rules/{policy_id}/diff?old=7&new=2").status_code == 404
    assert client.get("/console/rules/no_such_ruleset").status_code == 404


def test_validation_shows_each_error_at_its_line_then_deploys_after_a_confirmation(client, make_user):
    admin = make_user("admin")
    as_user(client, admin)
    policy_id = unique("p")
    good = policy_yaml(policy_id, "dealer.level == 9")
    bad = good.replace("  category: promotion\n", "  category: promotion\n  colour: red\n")
    filename = f"rules/policies/{policy_id}.yaml"

    r = client.post("/console/rules/validate", data={"text": bad, "filename": filename})
    assert r.status_code == 422
    assert re.search(r'<tr id="L6" class="has-error">', r.text)  # the line is marked…
    at_line = r.text.split('<tr id="L6"', 1)[1].split('<tr id="L7"', 1)[0]
    assert f"{filename}:6 policy.colour" in at_line and "unknown key &#39;colour&#39;" in at_line  # …the message under it
    assert 'href="#L6"' in r.text  # and listed, linking to it
    assert "Deploy" not in r.text.split("<h2>The file</h2>")[0].replace("Deploy…", "")

    wrong_name = client.post("/console/rules/validate", data={"text": good, "filename": "rules/policies/other.yaml"})
    assert wrong_name.status_code == 422 and "is named" in wrong_name.text and 'id="L1" class="has-error"' in wrong_name.text

    empty = client.post("/console/rules/validate", data={"text": "", "filename": filename})
    assert empty.status_code == 422 and "field-error" in empty.text and filename in empty.text  # the form kept

    uploaded = client.post("/console/rules/validate", data={"filename": ""},
                           files={"upload": (f"{policy_id}.yaml", good.encode(), "application/yaml")})
    assert uploaded.status_code == 200, uploaded.text
    assert "The file is valid and its tests pass." in uploaded.text and "Deploy…" in uploaded.text
    assert hidden(uploaded.text, "filename") == f"rules/{policy_id}.yaml"

    valid = client.post("/console/rules/validate", data={"text": good.replace("\n", "\r\n"), "filename": filename})
    assert valid.status_code == 200 and "Deploy…" in valid.text
    confirm = client.post("/console/rules/deploy", data={"text": good, "filename": filename})
    assert confirm.status_code == 200 and "Deploy now" in confirm.text and 'name="confirm" value="yes"' in confirm.text
    assert client.get("/api/v1/rules", headers=admin.headers).json() and not any(
        v["ruleset"] == policy_id for v in client.get("/api/v1/rules", headers=admin.headers).json())  # nothing yet

    done = client.post("/console/rules/deploy", data={"text": good.replace("\n", "\r\n"), "filename": filename,
                                                      "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/console/rules/{policy_id}?deployed=1"
    versions = [v for v in client.get("/api/v1/rules", headers=admin.headers).json() if v["ruleset"] == policy_id]
    assert [(v["version"], v["deployed_by"]) for v in versions] == [(1, admin.user.username)]
    assert "Version 1 is deployed and active." in client.get(done.headers["location"]).text

    again = client.post("/console/rules/deploy", data={"text": bad, "filename": filename, "confirm": "yes"})
    assert again.status_code == 422 and 'id="L6" class="has-error"' in again.text  # refused, nothing deployed


def test_hq_reads_and_deploys_policy_files_only(client, make_user):
    hq, admin = make_user("hq"), make_user("admin")
    text = Path(client.app.state.settings.rules_dir, "credit_approval.yaml").read_text(encoding="utf-8")
    as_user(client, hq)
    listing = client.get("/console/rules")
    assert listing.status_code == 200 and "credit_approval" not in listing.text and "spring_window_display" in listing.text
    assert client.get("/console/rules/credit_approval").status_code == 403
    assert client.get("/console/rules/credit_approval/diff").status_code == 403

    checked = client.post("/console/rules/validate", data={"text": text, "filename": "rules/credit_approval.yaml"})
    assert checked.status_code == 200 and "You may not deploy this file" in checked.text and "Deploy…" not in checked.text
    refused = client.post("/console/rules/deploy", data={"text": text + "\n# changed\n", "confirm": "yes",
                                                         "filename": "rules/credit_approval.yaml"})
    assert refused.status_code == 403 and "which only an admin deploys" in refused.text
    assert not [v for v in client.get("/api/v1/rules", headers=admin.headers).json()
                if v["ruleset"] == "credit_approval" and v["deployed_by"] == hq.user.username]

    policy_id = unique("p")
    ok = client.post("/console/rules/deploy", data={"text": policy_yaml(policy_id, "dealer.level == 9"),
                                                    "filename": f"rules/policies/{policy_id}.yaml", "confirm": "yes"},
                     follow_redirects=False)
    assert ok.status_code == 303

    as_user(client, admin)
    confirm = client.post("/console/rules/deploy", data={"text": text, "filename": "rules/credit_approval.yaml"})
    assert confirm.status_code == 200 and "Deploy now" in confirm.text


# --- master data ---------------------------------------------------------------------------------

def test_dealers_are_searched_paged_and_edited_keeping_the_form_on_a_refusal(client, make_user, sessions):
    admin, hq = make_user("admin"), make_user("hq")
    region, mark = unique("reg"), uuid.uuid4().hex[:6].upper()
    with sessions.begin() as s:
        s.add_all(Dealer(code=f"P{mark}{n:03d}", name=f"Paged dealer {n}", region=region, tier="gold" if n % 2 else "normal",
                         credit_limit=Decimal("1000.00")) for n in range(55))
    as_user(client, admin)

    first = client.get(f"/console/dealers?region={region}")
    assert first.status_code == 200 and "55 dealers" in first.text and "Page 1 of 2" in first.text
    assert first.text.count(f'href="/console/dealers/P{mark}') == 50
    second = client.get(f"/console/dealers?region={region}&page=2")
    assert second.text.count(f'href="/console/dealers/P{mark}') == 5 and f"P{mark}054" in second.text
    gold = client.get(f"/console/dealers?region={region}&tier=gold&level=1")
    assert "27 dealers" in gold.text
    found = client.get(f"/console/dealers?q=p{mark.lower()}01")
    assert "10 dealers" in found.text and f"P{mark}010" in found.text and f"P{mark}020" not in found.text

    code = f"P{mark}007"
    page = client.get(f"/console/dealers/{code}")
    assert page.status_code == 200 and field(page.text, "name") == "Paged dealer 7"
    expected = hidden(page.text, "expected")
    form = {"expected": expected, "name": "Renamed dealer", "region": region, "tier": "gold", "level": "1",
            "parent_code": "", "credit_limit": "abc", "outstanding": "0.00", "rating": "B", "overdue_days": "0",
            "account_manager": ""}

    invalid = client.post(f"/console/dealers/{code}", data=form)
    assert invalid.status_code == 422
    assert field(invalid.text, "credit_limit") == "abc" and field(invalid.text, "name") == "Renamed dealer"
    assert re.search(r'name="credit_limit" value="abc" required aria-invalid="true"', invalid.text)
    assert 'id="credit_limit-error"' in invalid.text

    orphan = client.post(f"/console/dealers/{code}", data={**form, "credit_limit": "2000", "level": "2"})
    assert orphan.status_code == 422 and 'id="parent_code-error"' in orphan.text and "needs a parent" in orphan.text

    # someone else changes the dealer meanwhile (the JSON API, on the version it read)
    etag = client.get(f"/api/v1/dealers/{code}", headers=admin.headers).headers["etag"]
    changed = client.patch(f"/api/v1/dealers/{code}", json={"rating": "D"}, headers={**admin.headers, "If-Match": etag})
    assert changed.status_code == 200 and changed.json()["rating"] == "D" and changed.headers["etag"] != etag
    assert client.patch(f"/api/v1/dealers/{code}", json={"rating": "A"},
                        headers={**admin.headers, "If-Match": etag}).status_code == 409
    stale = client.post(f"/console/dealers/{code}", data={**form, "credit_limit": "2000"})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    assert field(stale.text, "name") == "Renamed dealer" and field(stale.text, "credit_limit") == "2000"

    fresh = hidden(client.get(f"/console/dealers/{code}").text, "expected")
    saved = client.post(f"/console/dealers/{code}", data={**form, "expected": fresh, "credit_limit": "2000"},
                        follow_redirects=False)
    assert saved.status_code == 303
    after = client.get(f"/api/v1/dealers/{code}", headers=admin.headers).json()
    assert (after["name"], after["credit_limit"], after["rating"], after["tier"]) == ("Renamed dealer", "2000.00", "B", "gold")

    created = client.post("/console/dealers", data={"code": f"N{mark}", "name": "New dealer", "region": region,
                                                    "level": "2", "parent_code": code, "credit_limit": "5",
                                                    "outstanding": "0", "rating": "C", "overdue_days": "0"},
                          follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == f"/console/dealers/N{mark}"
    assert f'under <a href="/console/dealers/{code}">' in client.get(f"/console/dealers/N{mark}").text
    duplicate = client.post("/console/dealers", data={"code": f"N{mark}", "name": "Again", "region": region})
    assert duplicate.status_code == 409 and "already exists" in duplicate.text and field(duplicate.text, "name") == "Again"

    as_user(client, hq)
    assert client.get(f"/console/dealers/{code}").status_code == 200
    assert 'action="/console/dealers/' not in client.get(f"/console/dealers/{code}").text  # HQ reads
    assert client.post(f"/console/dealers/{code}", data=form).status_code == 403
    regions = client.get("/console/regions")
    assert regions.status_code == 200 and region in regions.text


def test_products_are_created_and_edited(client, make_user):
    admin = make_user("admin")
    as_user(client, admin)
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    created = client.post("/console/products", data={"sku": sku, "name": "Walnut door", "category": "door",
                                                      "unit_price": "120.50", "guide_price": ""}, follow_redirects=False)
    assert created.status_code == 303
    assert sku in client.get(created.headers["location"]).text
    bad = client.post("/console/products", data={"sku": f"{sku}-2", "name": "Door", "unit_price": "-1"})
    assert bad.status_code == 422 and 'id="unit_price-error"' in bad.text and field(bad.text, "sku") == f"{sku}-2"
    page = client.get(f"/console/products/{sku}")
    saved = client.post(f"/console/products/{sku}", data={"expected": hidden(page.text, "expected"), "name": "Walnut door",
                                                          "category": "door", "unit_price": "130", "guide_price": "199"},
                        follow_redirects=False)
    assert saved.status_code == 303
    product = next(p for p in client.get("/api/v1/products?limit=1000", headers=admin.headers).json() if p["sku"] == sku)
    assert (product["unit_price"], product["guide_price"]) == ("130.00", "199.00")


def test_a_new_users_password_is_refused_at_its_field(client, make_user):
    admin = make_user("admin")
    as_user(client, admin)
    username = f"clerk-{uuid.uuid4().hex[:8]}"
    r = client.post("/console/users", data={"username": username, "password": "1234567890123", "role": "finance"})
    assert r.status_code == 422
    label = r.text.split('name="password"', 1)[1].split("</label>", 1)[0]
    assert 'aria-invalid="true"' in label and "the password must not be digits only" in label
    assert field(r.text, "username") == username and "1234567890123" not in r.text  # kept, but not the password
    assert re.search(r'<option value="finance" selected>', r.text)

    ok = client.post("/console/users", data={"username": username, "password": "walnut-door-42", "role": "finance"},
                     follow_redirects=False)
    assert ok.status_code == 303
    listed = client.get(f"/console/users?q={username}")
    assert username in listed.text and "1 user" in listed.text and f'href="/console/users/{username}"' in listed.text


# --- scheduled processes and notifications ---------------------------------------------------------

def test_the_system_page_lists_the_schedules_and_the_outbox(client, make_user):
    as_user(client, make_user("hq"))
    r = client.get("/console/system")
    assert r.status_code == 200, r.text
    for schedule in ("tiering-monthly", "credit-monthly", "diversion-sweep", "order-sweep", "rebate-quarterly_volume"):
        assert f"<code>{schedule}</code>" in r.text
    assert "every 1 h" in r.text and "on day 1 of the month at 00:00 UTC (08:00 Beijing time)" in r.text
    assert "Order sweep: orders whose workflow never started." in r.text and "every 1 min" in r.text
    assert "Settlement of rebate program quarterly_volume" in r.text
    assert re.search(r"<td[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d", r.text)  # a next run
    assert 'href="/console/failures"' in r.text and "Waiting to be sent" in r.text


# --- API documentation -----------------------------------------------------------------------------

def test_api_docs_load_only_local_assets(client):
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200
        assert "http://" not in r.text and "https://" not in r.text and "cdn" not in r.text.lower()
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert assets and all(a.startswith("/static/docs/") for a in assets), assets
        for asset in assets:
            assert (STATIC / asset.removeprefix("/static/")).is_file()
            assert client.get(asset).status_code == 200
        csp = r.headers["content-security-policy"]
        assert "http" not in csp and "script-src 'self' 'sha256-" in csp
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    swagger = client.get("/docs").text
    inline = re.search(r"<script>(.*?)</script>", swagger, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in client.get("/docs").headers["content-security-policy"]
    assert "/static/docs/swagger-ui-bundle.js" in swagger and "/static/docs/redoc.standalone.js" in client.get("/redoc").text
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert "5.35.0" in (STATIC / "docs" / "README.md").read_text()
