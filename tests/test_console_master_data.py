"""The console's master data pages: import with a dry run first and every problem by line and column,
export, a record's changes, a user's deactivation and password reset, regions with their account
managers, and a credit limit raise that waits for approval — in English and in Chinese."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from dealerflow.models import Dealer

from .test_console_admin import as_user, hidden


def _upload(client, data: bytes, *, kind="dealers", apply=False, encoding="utf-8", name="dealers.csv"):
    form = {"kind": kind, "encoding": encoding, **({"apply": "yes"} if apply else {})}
    return client.post("/console/master-data/import", data=form, files={"upload": (name, data, "text/csv")})


def test_an_import_is_checked_by_a_dry_run_then_applied_and_exported(client, make_user, sessions):
    admin = make_user("admin")
    as_user(client, admin)
    page = client.get("/console/master-data")
    assert page.status_code == 200 and "Import and export" in page.text and "gb18030" in page.text
    code = f"C{uuid.uuid4().hex[:8].upper()}"
    csv = f"code,name,region,contact_name,cooperation_since\n{code},Console dealer,east,陈经理,2018-04-01\n"

    dry = _upload(client, csv.encode("gb18030"), encoding="gb18030")
    assert dry.status_code == 200 and "Dry run: nothing was written" in dry.text and code in dry.text
    with sessions() as s:
        assert s.scalar(select(Dealer.id).where(Dealer.code == code)) is None
    done = _upload(client, csv.encode("gb18030"), encoding="gb18030", apply=True)
    assert done.status_code == 200 and "Imported" in done.text and "1 new" in done.text
    with sessions() as s:
        assert s.scalar(select(Dealer.contact_name).where(Dealer.code == code)) == "陈经理"

    bad = _upload(client, f"code,name,region,credit_limit\n{code},x,east,12.345\n".encode(), apply=True)
    assert bad.status_code == 422 and "Nothing was imported" in bad.text
    assert "<code>credit_limit</code>" in bad.text and ">2<" in bad.text

    exported = client.get("/console/master-data/dealers/export?format=csv")
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf") and code in exported.text
    xlsx = client.get("/console/master-data/dealers/export?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    history = client.get(f"/console/dealers/{code}")
    assert "Changes" in history.text and "Contact person" in history.text and "陈经理" in history.text


def test_a_user_is_deactivated_and_given_a_new_password_from_its_page(client, make_user):
    admin, clerk = make_user("admin"), make_user("finance")
    as_user(client, admin)
    name = clerk.user.username
    page = client.get(f"/console/users/{name}")
    assert page.status_code == 200 and "Reset the password" in page.text
    form = {"expected": hidden(page.text, "expected"), "role": "finance", "dealer_code": "", "region": "",
            "display_name": "赵会计", "phone": "13800000000", "active": "false"}
    assert client.post(f"/console/users/{name}", data=form, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me", headers=clerk.headers).status_code == 401
    stale = client.post(f"/console/users/{name}", data={**form, "active": "true"})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    weak = client.post(f"/console/users/{name}/password", data={"password": "123"})
    assert weak.status_code == 422 and 'id="password-error"' in weak.text
    assert client.post(f"/console/users/{name}/password", data={"password": "cedar-window-31"},
                       follow_redirects=False).status_code == 303
    shown = client.get(f"/console/users/{name}")
    assert "deactivated" in shown.text and "password" in shown.text and "赵会计" in shown.text


def test_regions_get_account_managers_and_a_raise_waits_for_approval(client, make_user, make_dealer):
    admin, am = make_user("admin"), make_user("account_manager")
    dealer = make_dealer()
    as_user(client, admin)
    code = f"rg-{uuid.uuid4().hex[:6]}"
    created = client.post("/console/regions", data={"code": code, "name": "西南", "account_managers": am.user.username},
                          follow_redirects=False)
    assert created.status_code == 303
    page = client.get("/console/regions")
    assert "西南" in page.text and am.user.username in page.text
    assert code in client.get(f"/console/users/{am.user.username}").text  # the regions it serves
    refused = client.post("/console/regions", data={"code": code, "name": "again"})
    assert refused.status_code == 409 and "already exists" in refused.text

    d = client.get(f"/console/dealers/{dealer.dealer.code}")
    form = {"expected": hidden(d.text, "expected"), "credit_limit": "900000.00", "status": "active"}
    saved = client.post(f"/console/dealers/{dealer.dealer.code}", data=form)
    assert saved.status_code == 200 and "waits for a credit manager" in saved.text
    assert "900,000.00" in saved.text or "900000.00" in saved.text
    suspended = client.get(f"/console/dealers/{dealer.dealer.code}")
    form = {"expected": hidden(suspended.text, "expected"), "status": "suspended"}
    client.post(f"/console/dealers/{dealer.dealer.code}", data=form)
    assert "cannot place new orders" in client.get(f"/console/dealers/{dealer.dealer.code}").text


def test_a_region_edit_carries_the_version_it_was_made_on(client, make_user):
    admin = make_user("admin")
    as_user(client, admin)
    code = f"rg-{uuid.uuid4().hex[:6]}"
    assert client.post("/console/regions", data={"code": code, "name": "西北"},
                       follow_redirects=False).status_code == 303
    page = client.get("/console/regions").text
    form = page[page.index(f'action="/console/regions/{code}"'):]
    expected = hidden(form[:form.index("</form>")], "expected")
    assert expected
    saved = client.post(f"/console/regions/{code}", data={"expected": expected, "name": "西北一区"},
                        follow_redirects=False)
    assert saved.status_code == 303
    stale = client.post(f"/console/regions/{code}", data={"expected": expected, "name": "西北二区"})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    assert "西北一区" in client.get("/console/regions").text and "西北二区" not in client.get("/console/regions").text


def test_the_pages_speak_chinese(client, make_user):
    admin = make_user("admin")
    as_user(client, admin)
    zh = {"Accept-Language": "zh-CN"}
    assert "导入导出" in client.get("/console/master-data", headers=zh).text
    assert "重置密码" in client.get(f"/console/users/{admin.user.username}", headers=zh).text
