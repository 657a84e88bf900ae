"""Shipments, deliveries, returns and payments: the order's moves and their ledger entries, the limits
of returns, payments completing orders, CSV imports that are all or nothing, roles and exact money."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from dealerflow.shared import accounts
from dealerflow.models import AccountEntry, Order, OrderReturn, Payment, Product


def approved(client, dealer, product, quantity) -> str:
    r = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": quantity}]},
                    headers=dealer.headers)
    assert r.status_code == 201 and r.json()["status"] == "approved", r.text
    return r.json()["id"]


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def ref(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def delivered(client, staff, order_id: str) -> str:
    at = now()
    assert client.post(f"/api/v1/orders/{order_id}/ship", json={"at": at}, headers=staff.headers).status_code == 200
    r = client.post(f"/api/v1/orders/{order_id}/deliver", json={"at": at}, headers=staff.headers)
    assert r.status_code == 200 and r.json()["status"] == "delivered", r.text
    return at


def csv_import(client, staff, kind: str, text: str, *, multipart: bool = False):
    if multipart:
        return client.post(f"/api/v1/imports/{kind}", files={"file": (f"{kind}.csv", text.encode(), "text/csv")},
                           headers=staff.headers)
    return client.post(f"/api/v1/imports/{kind}", content=text.encode(),
                       headers={**staff.headers, "Content-Type": "text/csv; charset=utf-8"})


def entries(sessions, source_type: str, source_id: str) -> list[tuple]:
    with sessions() as s:
        return s.execute(select(AccountEntry.kind, AccountEntry.amount, AccountEntry.value_date).where(
            AccountEntry.source_type == source_type, AccountEntry.source_id == source_id)).all()


def balance(sessions, dealer) -> Decimal:
    with sessions() as s:
        return s.scalar(select(func.coalesce(func.sum(AccountEntry.amount), 0))
                        .where(AccountEntry.dealer_id == dealer.dealer.id))


def test_ship_then_deliver_books_the_order_to_the_account(client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    order_id = approved(client, dealer, product, 3)
    early = client.post(f"/api/v1/orders/{order_id}/deliver", json={"at": now()}, headers=finance.headers)
    assert early.status_code == 409 and "has not been shipped" in early.json()["detail"]

    shipped_at = now()
    r = client.post(f"/api/v1/orders/{order_id}/ship", json={"at": shipped_at}, headers=finance.headers)
    assert r.status_code == 200 and r.json()["status"] == "shipped", r.text
    assert client.post(f"/api/v1/orders/{order_id}/ship", json={"at": shipped_at},
                       headers=finance.headers).status_code == 200  # the same event again: nothing changes
    again = client.post(f"/api/v1/orders/{order_id}/ship", json={"at": now()}, headers=finance.headers)
    assert again.status_code == 409 and "already shipped" in again.json()["detail"]
    assert entries(sessions, "order", order_id) == []

    bad = client.post(f"/api/v1/orders/{order_id}/deliver", json={"at": "yesterday"}, headers=finance.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "at"
    before = client.post(f"/api/v1/orders/{order_id}/deliver", json={"at": "2020-01-01"}, headers=finance.headers)
    assert before.status_code == 422 and "before the order was shipped" in before.json()["errors"][0]["message"]
    delivered_at = now()
    r = client.post(f"/api/v1/orders/{order_id}/deliver", json={"at": delivered_at}, headers=finance.headers)
    assert r.status_code == 200 and r.json()["status"] == "delivered"
    assert [e["status"] for e in r.json()["history"]] == ["submitted", "approved", "shipped", "delivered"]
    assert client.post(f"/api/v1/orders/{order_id}/deliver", json={"at": delivered_at},
                       headers=finance.headers).status_code == 200
    day = accounts.business_date(datetime.fromisoformat(delivered_at))
    assert entries(sessions, "order", order_id) == [("delivery", Decimal("300.00"), day)]
    with sessions() as s:
        order = s.get(Order, uuid.UUID(order_id))
        assert order.shipped_at == datetime.fromisoformat(shipped_at)
        assert order.delivered_at == datetime.fromisoformat(delivered_at)

    assert client.post(f"/api/v1/orders/{uuid.uuid4()}/ship", headers=finance.headers).status_code == 404
    assert client.post("/api/v1/orders/not-an-id/ship", headers=finance.headers).status_code == 404
    rejected = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                           headers=make_dealer(overdue_days=91).headers).json()
    assert rejected["status"] == "rejected"
    r = client.post(f"/api/v1/orders/{rejected['id']}/ship", headers=make_user("hq").headers)
    assert r.status_code == 409 and rejected["id"] in r.json()["detail"] and "rejected" in r.json()["detail"]


def test_returns_are_limited_to_what_was_delivered(client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    order_id = approved(client, dealer, product, 5)
    shipped_only = approved(client, dealer, product, 1)
    client.post(f"/api/v1/orders/{shipped_only}/ship", headers=finance.headers)
    delivered(client, finance, order_id)

    first = ref("RT")
    row = {"reference": first, "order_id": order_id, "sku": product.sku, "quantity": 2, "returned_at": now(),
           "reason": "damaged in transport"}
    r = client.post("/api/v1/returns", json=[row], headers=finance.headers)
    assert r.status_code == 201, r.text
    assert r.json() == {"kind": "returns", "rows": 1, "recorded": 1, "unchanged": 0, "completed": 0}
    assert [e[:2] for e in entries(sessions, "return", first)] == [("return", Decimal("-200.00"))]

    def refused(rows):
        r = client.post("/api/v1/returns", json=rows, headers=finance.headers)
        assert r.status_code == 422, r.text
        return [(p["index"], p["field"], p["message"]) for p in r.json()["errors"]]

    problems = refused([{**row, "reference": ref("RT"), "quantity": 4}])
    assert problems == [(0, "quantity", f"4 is more than the 3 unit(s) of {product.sku} delivered and not yet "
                                        f"returned on order {order_id}")]
    # Two rows of one batch share what is left; every bad row is named.
    problems = refused([{**row, "reference": ref("RT")}, {**row, "reference": ref("RT")},
                        {**row, "reference": first},
                        {**row, "reference": ref("RT"), "sku": "NOPE"},
                        {**row, "reference": ref("RT"), "order_id": shipped_only},
                        {**row, "reference": ref("RT"), "quantity": "two", "colour": "red"}])
    assert [(i, f) for i, f, _ in problems] == [(1, "quantity"), (2, "reference"), (2, "quantity"), (3, "sku"),
                                                (4, "order_id"), (5, "colour"), (5, "quantity")]
    assert "already recorded" in problems[1][2] and "is shipped" in problems[4][2]
    with sessions() as s:
        assert s.scalar(select(func.sum(OrderReturn.quantity)).where(OrderReturn.order_id == uuid.UUID(order_id))) == 2

    r = client.post("/api/v1/returns", json=[{**row, "reference": ref("RT"), "quantity": 3}], headers=finance.headers)
    assert r.status_code == 201  # exactly what is left
    listed = client.get("/api/v1/returns", headers=dealer.headers).json()
    assert sorted(x["quantity"] for x in listed) == [2, 3] and {x["amount"] for x in listed} == {"200.00", "300.00"}
    assert balance(sessions, dealer) == Decimal("0.00")


def test_payments_complete_a_delivered_order(client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    order_id = approved(client, dealer, product, 3)
    prepaid = ref("PAY")
    r = client.post("/api/v1/payments", json=[{"reference": prepaid, "order_id": order_id, "amount": "100.00",
                                               "paid_at": now(), "method": "acceptance_bill"}], headers=finance.headers)
    assert r.status_code == 201 and r.json()["completed"] == 0, r.text
    delivered(client, finance, order_id)
    r = client.post("/api/v1/returns", json=[{"reference": ref("RT"), "order_id": order_id, "sku": product.sku,
                                              "quantity": 1, "returned_at": now()}], headers=finance.headers)
    assert r.status_code == 201 and r.json()["completed"] == 0
    assert client.get(f"/api/v1/orders/{order_id}", headers=dealer.headers).json()["status"] == "delivered"

    rest = ref("PAY")
    r = client.post("/api/v1/payments", json=[{"reference": rest, "dealer": dealer.dealer.code, "order_id": order_id,
                                               "amount": "100.00", "paid_at": now()}], headers=finance.headers)
    assert r.status_code == 201 and r.json()["completed"] == 1  # 300.00 less a 100.00 return: paid in full
    order = client.get(f"/api/v1/orders/{order_id}", headers=dealer.headers).json()
    assert order["status"] == "completed" and order["history"][-1]["note"].startswith("paid in full")
    assert [e[:2] for e in entries(sessions, "payment", rest)] == [("payment", Decimal("-100.00"))]
    assert balance(sessions, dealer) == Decimal("0.00")
    paid = client.get("/api/v1/payments", headers=dealer.headers).json()
    assert {(p["reference"], p["amount"], p["method"]) for p in paid} == {(prepaid, "100.00", "acceptance_bill"),
                                                                          (rest, "100.00", "transfer")}
    # A payment names a dealer that matches its order; without an order it needs the dealer.
    other = make_dealer()
    r = client.post("/api/v1/payments", json=[
        {"reference": ref("PAY"), "dealer": other.dealer.code, "order_id": order_id, "amount": "1", "paid_at": now()},
        {"reference": ref("PAY"), "amount": "1", "paid_at": now()},
        {"reference": ref("PAY"), "dealer": "NO-SUCH", "amount": "-5", "paid_at": "2026-13-01"}],
        headers=finance.headers)
    assert r.status_code == 422
    assert [(p["index"], p["field"]) for p in r.json()["errors"]] == [
        (0, "dealer"), (1, "dealer"), (2, "amount"), (2, "paid_at"), (2, "dealer")]


def test_csv_import_ships_delivers_and_pays(client, make_dealer, make_user, product, sessions):
    dealer, hq = make_dealer(), make_user("hq")
    ids = [approved(client, dealer, product, q) for q in (1, 2)]
    today = datetime.now(accounts.CHINA).date().isoformat()
    r = csv_import(client, hq, "shipments", "order_id,shipped_at\n" + "".join(f"{i},{now()}\n" for i in ids),
                   multipart=True)
    assert r.status_code == 201 and r.json()["recorded"] == 2, r.text
    deliveries = "\ufeffOrder_ID , delivered_at\r\n" + "".join(f"{i},{now()}\r\n" for i in ids) + "\r\n"
    r = csv_import(client, hq, "deliveries", deliveries)
    assert r.json() == {"kind": "deliveries", "rows": 2, "recorded": 2, "unchanged": 0, "completed": 0}, r.text
    assert csv_import(client, hq, "deliveries", deliveries).json()["unchanged"] == 2  # re-import: no change

    refs = [ref("PAY"), ref("PAY")]
    payments = ("reference,order_id,dealer,amount,paid_at,method\n"
                f"{refs[0]},{ids[0]},,100.00,{today},\n"
                f'{refs[1]},,{dealer.dealer.code},"200",{today},transfer\n')
    r = csv_import(client, hq, "payments", payments)
    assert r.status_code == 201 and r.json()["recorded"] == 2 and r.json()["completed"] == 1, r.text
    with sessions() as s:
        stored = s.scalars(select(Payment).where(Payment.reference.in_(refs)).order_by(Payment.reference)).all()
        assert {p.paid_at for p in stored} == {datetime.fromisoformat(today + "T00:00:00+08:00")}
        assert {p.order_id for p in stored} == {uuid.UUID(ids[0]), None}
        statuses = {str(o.id): o.status for o in s.scalars(select(Order).where(Order.dealer_id == dealer.dealer.id))}
    assert statuses == {ids[0]: "completed", ids[1]: "delivered"}
    assert balance(sessions, dealer) == Decimal("0.00")


def test_a_bad_row_refuses_the_whole_file(client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    order_id = approved(client, dealer, product, 2)
    delivered(client, finance, order_id)

    def counts():
        with sessions() as s:
            return (s.scalar(select(func.count()).select_from(Payment).where(Payment.dealer_id == dealer.dealer.id)),
                    s.scalar(select(func.count()).select_from(AccountEntry)
                             .where(AccountEntry.dealer_id == dealer.dealer.id)))

    before = counts()
    good = [ref("PAY") for _ in range(3)]
    text = ("reference,dealer,order_id,amount,paid_at\n"
            f"{good[0]},{dealer.dealer.code},,10.00,{now()}\n"
            f"{good[1]},{dealer.dealer.code},,1.234,{now()}\n"
            f'"{good[2]}",{dealer.dealer.code},,"20.00",{now()}\n'
            f"{ref('PAY')},,abc,5.00,{now()}\n"
            f"{good[0]},{dealer.dealer.code},,5.00,{now()}\n"
            f"{ref('PAY')},{dealer.dealer.code},{order_id},5.00,2026-03-05T10:00:00\n")
    r = csv_import(client, finance, "payments", text)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"line": 3, "field": "amount", "message": "expected an amount with at most 2 decimals, got '1.234'"},
        {"line": 5, "field": "order_id", "message": "unknown order 'abc'"},
        {"line": 6, "field": "reference", "message": f"duplicate reference '{good[0]}' (also on line 2)"},
        {"line": 7, "field": "paid_at",
         "message": "'2026-03-05T10:00:00' has no UTC offset: add one (+08:00 for China) or give a date"}]
    assert counts() == before

    # Header problems are named; content that is not CSV is refused before any row is read.
    r = csv_import(client, finance, "payments", "reference;amount;paid_at\n")
    assert r.status_code == 422 and "separated by commas" in r.json()["errors"][0]["message"]
    r = csv_import(client, finance, "returns", "reference,order_id,sku,qty,returned_at\n")
    assert {(p["line"], p["field"], p["message"]) for p in r.json()["errors"]} >= {
        (1, "qty", "unknown column; expected reference, order_id, sku, quantity, returned_at, reason"),
        (1, "quantity", "missing column")}
    assert client.post("/api/v1/imports/payments", content=b"PK\x03\x04 workbook",
                       headers={**finance.headers, "Content-Type": "text/csv"}).status_code == 415
    assert client.post("/api/v1/imports/payments", files={"file": ("p.csv", b"\x89PNG\r\n", "text/csv")},
                       headers=finance.headers).status_code == 415
    assert client.post("/api/v1/imports/payments", json=[], headers=finance.headers).status_code == 415
    assert client.post("/api/v1/imports/payments", content=b"reference,amount,paid_at\n" + b"x" * (21 << 20),
                       headers={**finance.headers, "Content-Type": "text/csv"}).status_code == 413
    assert client.post("/api/v1/imports/orders", content=b"a\n",
                       headers={**finance.headers, "Content-Type": "text/csv"}).status_code == 422
    assert counts() == before


def test_a_reimported_file_is_refused_and_not_counted_twice(client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    order_id = approved(client, dealer, product, 4)
    delivered(client, finance, order_id)
    rt, pay = ref("RT"), ref("PAY")
    returns = f"reference,order_id,sku,quantity,returned_at,reason\n{rt},{order_id},{product.sku},1,{now()},\n"
    payments = f"reference,order_id,amount,paid_at\n{pay},{order_id},150.00,{now()}\n"
    assert csv_import(client, finance, "returns", returns).status_code == 201
    assert csv_import(client, finance, "payments", payments).status_code == 201
    owed = balance(sessions, dealer)
    assert owed == Decimal("150.00")  # 400.00 delivered - 100.00 returned - 150.00 paid

    for kind, text, reference in (("returns", returns, rt), ("payments", payments, pay)):
        r = csv_import(client, finance, kind, text)
        assert r.status_code == 422
        assert r.json()["errors"] == [{"line": 2, "field": "reference",
                                       "message": f"'{reference}' is already recorded"}]
    assert balance(sessions, dealer) == owed
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Payment).where(Payment.reference == pay)) == 1


def test_roles_and_dealer_scope(client, make_dealer, make_user, product):
    dealer, other, finance = make_dealer(), make_dealer(), make_user("finance")
    order_id = approved(client, dealer, product, 1)
    for actor in (dealer, make_user("credit_manager")):
        h = actor.headers
        assert client.post(f"/api/v1/orders/{order_id}/ship", headers=h).status_code == 403
        assert client.post("/api/v1/payments", json=[], headers=h).status_code == 403
        assert client.post("/api/v1/returns", json=[], headers=h).status_code == 403
        assert client.post("/api/v1/imports/payments", content=b"reference,amount,paid_at\n",
                           headers={**h, "Content-Type": "text/csv"}).status_code == 403
    assert client.get("/api/v1/payments").status_code == 401

    pay = ref("PAY")
    r = client.post("/api/v1/payments", json=[{"reference": pay, "dealer": dealer.dealer.code, "amount": "50.00",
                                               "paid_at": now()}], headers=make_user("admin").headers)
    assert r.status_code == 201
    assert [p["reference"] for p in client.get("/api/v1/payments", headers=dealer.headers).json()] == [pay]
    assert client.get("/api/v1/payments", headers=other.headers).json() == []
    assert client.get("/api/v1/payments", params={"dealer": dealer.dealer.code},
                      headers=other.headers).json() == []
    mine = client.get("/api/v1/payments", params={"dealer": dealer.dealer.code}, headers=finance.headers).json()
    assert [(p["reference"], p["dealer_code"], p["amount"]) for p in mine] == [(pay, dealer.dealer.code, "50.00")]
    today = datetime.now(accounts.CHINA).date()
    window = {"dealer": dealer.dealer.code, "from": str(today - timedelta(days=1)), "to": str(today)}
    assert len(client.get("/api/v1/payments", params=window, headers=finance.headers).json()) == 1
    window["to"] = window["from"]
    assert client.get("/api/v1/payments", params=window, headers=finance.headers).json() == []


def test_money_is_exact(client, make_dealer, make_user, sessions):
    """0.10 + 0.10 + 0.10 pays 0.30 exactly, whether sent as a JSON string, a JSON number or CSV."""
    with sessions.begin() as s:
        dime = Product(sku=f"SKU-{uuid.uuid4().hex[:8]}", name="Hinge screw", category="door",
                       unit_price=Decimal("0.10"))
        s.add(dime)
    dealer, finance = make_dealer(), make_user("finance")
    order_id = approved(client, dealer, dime, 3)
    delivered(client, finance, order_id)
    assert client.post("/api/v1/payments", json=[{"reference": ref("PAY"), "order_id": order_id, "amount": "0.10",
                                                  "paid_at": now()}], headers=finance.headers).json()["completed"] == 0
    assert client.post("/api/v1/payments", json=[{"reference": ref("PAY"), "order_id": order_id, "amount": 0.1,
                                                  "paid_at": now()}], headers=finance.headers).json()["completed"] == 0
    r = csv_import(client, finance, "payments",
                   f"reference,order_id,amount,paid_at\n{ref('PAY')},{order_id},0.10,{now()}\n")
    assert r.json()["completed"] == 1, r.text
    assert balance(sessions, dealer) == Decimal("0.00")
    with sessions() as s:
        assert s.scalar(select(func.sum(Payment.amount)).where(Payment.order_id == uuid.UUID(order_id))) == \
            Decimal("0.30")
    r = client.post("/api/v1/payments", json=[{"reference": ref("PAY"), "dealer": dealer.dealer.code,
                                               "amount": 0.105, "paid_at": now()}], headers=finance.headers)
    assert r.status_code == 422 and "at most 2 decimals" in r.json()["errors"][0]["message"]
