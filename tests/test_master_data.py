"""Master data end to end (real PostgreSQL and Temporal): dealers, products, users and regions through
the API — optimistic concurrency, the audit of every change, the checks on parents, the credit limit
raise that waits for a second person — and bulk import (CSV in UTF-8 or GB18030, XLSX; dry run; all
rows or none) and export."""
from __future__ import annotations

import io
import uuid
from decimal import Decimal

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from dealerflow.models import CreditLimitChange, Dealer, HumanTask, MasterAudit, Product, User

from .support import PASSWORD, wait_until


def _code(prefix: str = "M") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _audit(client, headers, kind: str, key: str) -> list[dict]:
    r = client.get(f"/api/v1/{kind}/{key}/audit", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_dealer_is_created_read_changed_on_its_etag_and_every_change_audited(client, make_user):
    admin, hq = make_user("admin"), make_user("hq")
    code = _code()
    r = client.post("/api/v1/dealers", headers=admin.headers, json={
        "code": code, "name": "杭州安居门窗", "legal_name": "杭州安居门窗有限公司", "region": "east",
        "province": "浙江", "city": "杭州", "channel": "engineering", "tags": ["window_specialist"],
        "contact_name": "王经理", "contact_phone": "138 0000 1234", "contact_birthday": "1980-05-06",
        "cooperation_since": "2016-03-01", "payment_terms_days": 45, "credit_limit": "50000.00"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["cooperation_since"], body["channel"], body["status"], body["payment_terms_days"]) == \
        ("2016-03-01", "engineering", "active", 45)

    read = client.get(f"/api/v1/dealers/{code}", headers=admin.headers)
    etag = read.headers["etag"]
    changed = client.patch(f"/api/v1/dealers/{code}", json={"credit_limit": "60000.00", "city": "宁波"},
                           headers={**admin.headers, "If-Match": etag})
    assert changed.status_code == 200 and changed.json()["credit_limit"] == "60000.00"
    assert changed.headers["etag"] != etag
    stale = client.patch(f"/api/v1/dealers/{code}", json={"city": "温州"}, headers={**admin.headers, "If-Match": etag})
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]
    assert client.get(f"/api/v1/dealers/{code}", headers=admin.headers).json()["city"] == "宁波"

    rows = _audit(client, hq.headers, "dealers", code)
    latest = {r["field"]: r for r in rows if r["note"] != "created"}
    assert latest["credit_limit"]["before"] == "50000.00" and latest["credit_limit"]["after"] == "60000.00"
    assert latest["city"]["before"] == "杭州" and latest["city"]["after"] == "宁波"
    assert {r["actor"] for r in rows} == {admin.user.username} and {r["via"] for r in rows} == {"api"}
    assert any(r["field"] == "contact_name" and r["after"] == "王经理" and r["note"] == "created" for r in rows)

    listed = client.get("/api/v1/dealers", params={"q": code.lower(), "channel": "engineering", "status": "active"},
                        headers=admin.headers)
    assert [d["code"] for d in listed.json()] == [code] and listed.headers["x-total-count"] == "1"


def test_bad_parents_and_bad_money_are_refused_naming_the_field_and_nothing_changes(client, make_user, make_dealer,
                                                                                    sessions):
    admin = make_user("admin")
    top, below = _code("T"), _code("B")
    assert client.post("/api/v1/dealers", headers=admin.headers,
                       json={"code": top, "name": "Top", "region": "east"}).status_code == 201
    assert client.post("/api/v1/dealers", headers=admin.headers, json={
        "code": below, "name": "Below", "region": "east", "level": 2, "parent_code": top}).status_code == 201

    under_level_2 = client.post("/api/v1/dealers", headers=admin.headers, json={
        "code": _code(), "name": "x", "region": "east", "level": 2, "parent_code": below})
    assert under_level_2.status_code == 422
    assert under_level_2.json()["errors"][0]["field"] == "parent_code"
    assert "is a level-2 dealer" in under_level_2.json()["errors"][0]["message"]
    unknown = client.post("/api/v1/dealers", headers=admin.headers, json={
        "code": _code(), "name": "x", "region": "east", "level": 2, "parent_code": "NOSUCHDEALER"})
    assert unknown.status_code == 422 and "unknown dealer" in unknown.json()["errors"][0]["message"]
    has_children = client.patch(f"/api/v1/dealers/{top}", headers=admin.headers,
                                json={"level": 2, "parent_code": _code()})
    assert has_children.status_code == 422
    own = client.patch(f"/api/v1/dealers/{top}", headers=admin.headers, json={"level": 2, "parent_code": top})
    assert own.status_code == 422 and "not its own parent" in own.text
    money = client.patch(f"/api/v1/dealers/{top}", headers=admin.headers, json={"credit_limit": "lots"})
    assert money.status_code == 422 and money.json()["errors"][0]["field"] == "credit_limit"
    bad_manager = client.patch(f"/api/v1/dealers/{top}", headers=admin.headers, json={"account_manager": "nobody-x"})
    assert bad_manager.status_code == 422 and bad_manager.json()["errors"][0]["field"] == "account_manager"
    with sessions() as s:
        assert s.scalar(select(Dealer.level).where(Dealer.code == top)) == 1
        assert s.scalar(select(func.count()).select_from(MasterAudit).where(
            MasterAudit.record_key == top, MasterAudit.note.is_(None))) == 0


def test_a_suspended_dealer_cannot_order_and_a_product_no_longer_sold_cannot_be_ordered(client, make_user,
                                                                                        make_dealer, product):
    admin, dealer = make_user("admin"), make_dealer()
    order = {"lines": [{"sku": product.sku, "quantity": 1}]}
    r = client.post(f"/api/v1/products/{product.sku}/deactivate", headers=admin.headers)
    assert r.status_code == 200 and r.json()["active"] is False
    refused = client.post("/api/v1/orders", json=order, headers=dealer.headers)
    assert refused.status_code == 422 and "no longer sold" in refused.text
    client.patch(f"/api/v1/products/{product.sku}", json={"active": True}, headers=admin.headers)

    r = client.post(f"/api/v1/dealers/{dealer.dealer.code}/deactivate", json={"status": "suspended"},
                    headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    refused = client.post("/api/v1/orders", json=order, headers=dealer.headers)
    assert refused.status_code == 409 and "suspended" in refused.json()["detail"]
    client.patch(f"/api/v1/dealers/{dealer.dealer.code}", json={"status": "active"}, headers=admin.headers)
    assert client.post("/api/v1/orders", json=order, headers=dealer.headers).status_code == 201


def test_a_deactivated_user_cannot_log_in_and_its_tokens_stop_working(client, make_user):
    admin, clerk = make_user("admin"), make_user("finance")
    name = clerk.user.username
    token = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD}).json()["access_token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    r = client.post(f"/api/v1/users/{name}/deactivate", headers=admin.headers)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/v1/me", headers=clerk.headers).status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD}).status_code == 401

    etag = client.get(f"/api/v1/users/{name}", headers=admin.headers).headers["etag"]
    assert client.patch(f"/api/v1/users/{name}", json={"active": True, "display_name": "李会计"},
                        headers={**admin.headers, "If-Match": etag}).status_code == 200
    assert client.patch(f"/api/v1/users/{name}", json={"phone": "13900000000"},
                        headers={**admin.headers, "If-Match": etag}).status_code == 409
    weak = client.post(f"/api/v1/users/{name}/password", json={"password": "1234567890"}, headers=admin.headers)
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    assert client.post(f"/api/v1/users/{name}/password", json={"password": "walnut-frame-77"},
                       headers=admin.headers).status_code == 200
    assert client.post("/api/v1/auth/token", data={"username": name, "password": "walnut-frame-77"}).status_code == 200
    fields = [r["field"] for r in _audit(client, admin.headers, "users", name)]
    assert "active" in fields and "password" in fields and "display_name" in fields
    assert "walnut" not in str(_audit(client, admin.headers, "users", name))
    assert client.post(f"/api/v1/users/{admin.user.username}/deactivate", headers=admin.headers).status_code == 422


def test_regions_have_account_managers(client, make_user):
    admin, am = make_user("admin"), make_user("account_manager")
    code = f"r-{uuid.uuid4().hex[:6]}"
    r = client.post("/api/v1/regions", headers=admin.headers,
                    json={"code": code, "name": "华东一区", "account_managers": [am.user.username]})
    assert r.status_code == 201 and r.json()["account_managers"] == [am.user.username]
    bad = client.patch(f"/api/v1/regions/{code}", headers=admin.headers, json={"account_managers": [admin.user.username]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "account_managers"
    assert client.patch(f"/api/v1/regions/{code}", headers=admin.headers, json={"name": "华东"}).status_code == 200
    assert [r["field"] for r in _audit(client, admin.headers, "regions", code)][0] == "name"
    assert any(r["code"] == code and r["name"] == "华东" for r in client.get("/api/v1/regions", headers=am.headers).json())


def test_a_region_edit_made_on_stale_values_is_refused(client, make_user):
    admin, am = make_user("admin"), make_user("account_manager")
    code = f"r-{uuid.uuid4().hex[:6]}"
    created = client.post("/api/v1/regions", headers=admin.headers, json={"code": code, "name": "华南一区"})
    etag = created.headers["ETag"]
    assert created.status_code == 201 and etag == '"%s"' % created.json()["version"]
    listed = next(r for r in client.get("/api/v1/regions", headers=admin.headers).json() if r["code"] == code)
    assert f'"{listed["version"]}"' == etag
    moved = client.patch(f"/api/v1/regions/{code}", headers={**admin.headers, "If-Match": etag},
                         json={"account_managers": [am.user.username]})
    assert moved.status_code == 200 and moved.headers["ETag"] not in (etag, None)
    assert moved.headers["ETag"] == '"%s"' % moved.json()["version"]
    stale = client.patch(f"/api/v1/regions/{code}", headers={**admin.headers, "If-Match": etag}, json={"name": "华南"})
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]
    kept = next(r for r in client.get("/api/v1/regions", headers=admin.headers).json() if r["code"] == code)
    assert kept["name"] == "华南一区" and kept["account_managers"] == [am.user.username]
    assert [r["field"] for r in _audit(client, admin.headers, "regions", code)][0] == "account_managers"
    fresh = client.patch(f"/api/v1/regions/{code}", headers={**admin.headers, "If-Match": moved.headers["ETag"]},
                         json={"name": "华南"})
    assert fresh.status_code == 200 and fresh.json()["name"] == "华南"


def test_a_credit_limit_raise_above_the_threshold_waits_for_a_second_person(client, make_user, make_dealer, sessions):
    admin, manager, other = make_user("admin"), make_user("credit_manager"), make_user("credit_manager")
    dealer = make_dealer()
    code = dealer.dealer.code
    r = client.patch(f"/api/v1/dealers/{code}", json={"credit_limit": "250000.00", "city": "苏州"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["credit_limit"] == "10000.00" and r.json()["city"] == "苏州"
    assert r.json()["pending_credit_limit"]["credit_limit"] == "250000.00"
    again = client.patch(f"/api/v1/dealers/{code}", json={"credit_limit": "300000.00"}, headers=admin.headers)
    assert again.status_code == 409

    def task():
        with sessions() as s:
            return s.scalars(select(HumanTask).where(HumanTask.kind == "credit_limit_change",
                                                     HumanTask.subject_id == code)).first()
    opened = wait_until(task)
    assert opened.assignee_role == "credit_manager" and opened.payload["requested_by"] == admin.user.username
    assert client.post(f"/api/v1/tasks/{opened.id}/complete", json={"outcome": "approve"},
                       headers=admin.headers).status_code == 403
    done = client.post(f"/api/v1/tasks/{opened.id}/complete", json={"outcome": "approve", "comment": "年度合同"},
                       headers=manager.headers)
    assert done.status_code == 200, done.text

    def applied():
        with sessions() as s:
            return s.scalar(select(CreditLimitChange.status).where(
                CreditLimitChange.id == uuid.UUID(opened.payload["change_id"]))) == "approved"
    wait_until(applied)
    assert client.get(f"/api/v1/dealers/{code}", headers=admin.headers).json()["credit_limit"] == "250000.00"
    row = next(r for r in _audit(client, admin.headers, "dealers", code) if r["field"] == "credit_limit")
    assert row["actor"] == manager.user.username and row["via"] == "approval"
    assert admin.user.username in row["note"] and manager.user.username in row["note"]

    # a rejection keeps the limit and says why; lowering never waits
    r = client.patch(f"/api/v1/dealers/{code}", json={"credit_limit": "400000.00"}, headers=admin.headers)
    assert r.json()["pending_credit_limit"]["credit_limit"] == "400000.00"
    second = wait_until(lambda: task_of(sessions, code, "open"))
    assert client.post(f"/api/v1/tasks/{second.id}/complete", json={"outcome": "reject", "comment": "逾期较多"},
                       headers=other.headers).status_code == 200

    def rejected():
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(CreditLimitChange).where(
                CreditLimitChange.dealer_id == dealer.dealer.id, CreditLimitChange.status == "rejected",
                CreditLimitChange.reason == "逾期较多"))
    wait_until(rejected)
    assert client.get(f"/api/v1/dealers/{code}", headers=admin.headers).json()["credit_limit"] == "250000.00"
    lowered = client.patch(f"/api/v1/dealers/{code}", json={"credit_limit": "1000.00"}, headers=admin.headers)
    assert lowered.json()["credit_limit"] == "1000.00" and lowered.json()["pending_credit_limit"] is None


def task_of(sessions, code: str, status: str):
    with sessions() as s:
        return s.scalars(select(HumanTask).where(HumanTask.kind == "credit_limit_change", HumanTask.subject_id == code,
                                                 HumanTask.status == status)).first()


# --- import and export ------------------------------------------------------------------------------

def _import(client, headers, kind: str, data: bytes, **params):
    return client.post(f"/api/v1/master-data/{kind}/import", params=params, content=data,
                       headers={**headers, "Content-Type": "text/csv"})


def test_a_dry_run_reports_each_row_and_changes_nothing_then_the_import_upserts(client, make_user, sessions):
    admin = make_user("admin")
    a, b = _code("I"), _code("I")
    assert client.post("/api/v1/dealers", headers=admin.headers,
                       json={"code": a, "name": "Old name", "region": "east"}).status_code == 201
    csv = (f"code,name,region,level,parent_code,credit_limit,cooperation_since,contact_phone\n"
           f"{a},New name,east,1,,1000.00,2015-06-01,13800001111\n"
           f"{b},Child,east,2,{a},500,2020-01-02,\n").encode("utf-8-sig")
    dry = _import(client, admin.headers, "dealers", csv, dry_run="true")
    assert dry.status_code == 200, dry.text
    out = dry.json()
    assert (out["dry_run"], out["created"], out["updated"], out["unchanged"]) == (True, 1, 1, 0)
    first = next(c for c in out["changes"] if c["key"] == a)
    assert first["line"] == 2 and set(first["fields"]) == {"name", "credit_limit", "cooperation_since", "contact_phone"}
    with sessions() as s:
        assert s.scalar(select(Dealer.name).where(Dealer.code == a)) == "Old name"
        assert s.scalar(select(Dealer.id).where(Dealer.code == b)) is None

    done = _import(client, admin.headers, "dealers", csv)
    assert done.status_code == 200 and done.json()["dry_run"] is False
    child = client.get(f"/api/v1/dealers/{b}", headers=admin.headers).json()
    assert child["parent_code"] == a and child["credit_limit"] == "500.00" and child["cooperation_since"] == "2020-01-02"
    rows = _audit(client, admin.headers, "dealers", a)
    assert any(r["field"] == "name" and r["before"] == "Old name" and r["via"] == "import" for r in rows)
    again = _import(client, admin.headers, "dealers", csv, dry_run="true").json()
    assert again["unchanged"] == 2


def test_every_bad_row_is_named_by_line_and_column_and_nothing_is_written(client, make_user, sessions):
    admin = make_user("admin")
    x, y, z, lvl2, top = (_code("E") for _ in range(5))
    assert client.post("/api/v1/dealers", headers=admin.headers,
                       json={"code": top, "name": "Top", "region": "east"}).status_code == 201
    assert client.post("/api/v1/dealers", headers=admin.headers, json={
        "code": lvl2, "name": "L2", "region": "east", "level": 2, "parent_code": top}).status_code == 201
    csv = (f"code,name,region,level,parent_code,credit_limit\n"
           f"{x},Cycle one,east,2,{y},0\n"
           f"{y},Cycle two,east,2,{x},0\n"
           f"{z},Under a level 2,east,2,{lvl2},abc\n"
           f"NEW{z},Unknown parent,east,2,NOSUCH,0\n").encode()
    r = _import(client, admin.headers, "dealers", csv)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert {"line": 4, "field": "credit_limit"} in [{"line": e["line"], "field": e["field"]} for e in errors]
    csv = csv.replace(b"abc", b"0")
    r = _import(client, admin.headers, "dealers", csv)
    assert r.status_code == 422
    by_line = {(e["line"], e["field"]): e["message"] for e in r.json()["errors"]}
    assert "a cycle" in by_line[(2, "parent_code")] and "a cycle" in by_line[(3, "parent_code")]
    assert "level-2 dealer" in by_line[(4, "parent_code")] and "unknown dealer" in by_line[(5, "parent_code")]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Dealer).where(Dealer.code.in_([x, y, z, f"NEW{z}"]))) == 0
    header = _import(client, admin.headers, "dealers", b"code,nmae\nX,Y\n")
    assert header.status_code == 422 and header.json()["errors"][0]["field"] == "nmae"
    tag = _import(client, admin.headers, "dealers", f"code,tags\n{top},\"window_specialist, Rural Market\"\n".encode())
    assert tag.status_code == 422 and tag.json()["errors"][0] == {
        "line": 2, "field": "tags",
        "message": "'Rural Market' is not a tag: lower case letters, digits and underscores, like window_specialist"}
    too_high = _import(client, admin.headers, "dealers", f"code,credit_limit\n{top},900000\n".encode())
    assert too_high.status_code == 422 and "second person" in too_high.json()["errors"][0]["message"]


def test_gb18030_csv_and_xlsx_round_trip(client, make_user, sessions):
    admin = make_user("admin")
    sku = f"GB-{uuid.uuid4().hex[:6]}"
    csv = f"sku,name,category,unit,pack_size,unit_price,guide_price,active\n{sku},断桥铝平开窗,窗,樘,2,1999.50,,true\n"
    garbled = _import(client, admin.headers, "products", csv.encode("gb18030"))
    assert garbled.status_code == 415 and "encoding=gb18030" in garbled.json()["detail"]
    r = _import(client, admin.headers, "products", csv.encode("gb18030"), encoding="gb18030")
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    product = client.get(f"/api/v1/products/{sku}", headers=admin.headers).json()
    assert (product["name"], product["unit"], product["pack_size"], product["unit_price"]) == ("断桥铝平开窗", "樘", 2, "1999.50")

    exported = client.get("/api/v1/master-data/products/export", headers=admin.headers)
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")
    assert "断桥铝平开窗" in exported.content.decode("utf-8-sig")
    xlsx = client.get("/api/v1/master-data/products/export", params={"format": "xlsx"}, headers=admin.headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == sku)
    assert dict(zip(header, row))["unit_price"] == Decimal("1999.50") or float(dict(zip(header, row))["unit_price"]) == 1999.5

    wb = Workbook()
    ws = wb.active
    ws.append(["sku", "name", "unit_price", "pack_size"])
    ws.append([sku, "断桥铝平开窗 II", 2100.5, 4])
    out = io.BytesIO()
    wb.save(out)
    r = client.post("/api/v1/master-data/products/import", content=out.getvalue(), headers={
        **admin.headers, "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert r.status_code == 200, r.text
    assert r.json()["changes"][0] == {"line": 2, "key": sku, "action": "updated",
                                      "fields": ["name", "pack_size", "unit_price"]}
    with sessions() as s:
        stored = s.scalars(select(Product).where(Product.sku == sku)).one()
        assert (stored.unit_price, stored.pack_size, stored.unit) == (Decimal("2100.50"), 4, "樘")


def test_users_are_imported_with_their_passwords_and_exported_without(client, make_user, make_dealer, sessions):
    admin, dealer = make_user("admin"), make_dealer()
    name = f"imp-{uuid.uuid4().hex[:6]}"
    csv = (f"username,role,dealer_code,display_name,password\n"
           f"{name},dealer,{dealer.dealer.code},张三,walnut-door-42\n"
           f"{name}x,dealer,NOSUCH,李四,walnut-door-42\n").encode()
    bad = _import(client, admin.headers, "users", csv)
    assert bad.status_code == 422 and bad.json()["errors"] == [
        {"line": 3, "field": "dealer_code", "message": "unknown dealer 'NOSUCH'"}]
    r = _import(client, admin.headers, "users", csv.rsplit(b"\n", 2)[0] + b"\n")
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    assert client.post("/api/v1/auth/token", data={"username": name, "password": "walnut-door-42"}).status_code == 200
    exported = client.get("/api/v1/master-data/users/export", headers=admin.headers).content.decode("utf-8-sig")
    assert name in exported and "password" not in exported.splitlines()[0] and "walnut" not in exported
    with sessions() as s:
        assert s.scalar(select(User.display_name).where(User.username == name)) == "张三"


def test_a_large_import_is_audited_field_by_field(client, make_user, sessions):
    admin = make_user("admin")
    prefix = _code("L")
    odd = 'Quote " comma, backslash \\N'
    lines = "".join(f'{prefix}{i:03d},"{odd.replace(chr(34), chr(34) * 2)} {i}",east,2019-01-0{i % 9 + 1},45\n'
                    for i in range(80))
    r = _import(client, admin.headers, "dealers", f"code,name,region,cooperation_since,payment_terms_days\n{lines}".encode())
    assert r.status_code == 200 and r.json()["created"] == 80, r.text
    with sessions() as s:
        rows = s.scalars(select(MasterAudit).where(MasterAudit.record_key.like(f"{prefix}%"))).all()
    assert len(rows) > 500 and {r.via for r in rows} == {"import"} and {r.actor for r in rows} == {admin.user.username}
    name = next(r for r in rows if r.record_key == f"{prefix}007" and r.field == "name")
    assert (name.before, name.after) == (None, f"{odd} 7")


def test_a_new_dealer_with_a_limit_above_the_threshold_starts_at_zero_until_approved(client, make_user, sessions):
    admin = make_user("admin")
    code = _code("H")
    r = client.post("/api/v1/dealers", headers=admin.headers,
                    json={"code": code, "name": "Big account", "region": "east", "credit_limit": "300000.00"})
    assert r.status_code == 201, r.text
    assert r.json()["credit_limit"] == "0.00" and r.json()["pending_credit_limit"]["credit_limit"] == "300000.00"
    assert wait_until(lambda: task_of(sessions, code, "open")).payload["new_limit"] == "300000.00"
