"""Order history from the ERP: a file (CSV or XLSX) or a JSON batch of orders with their lines, dates,
returns and payments, written as they happened and marked imported. A second import of the same
numbers changes nothing; a bad row refuses the whole import, named by line (or JSON place) and
column; a dry run writes nothing; no workflow is started; the reports, the ledger and the tiering
figures see the back-dated orders."""
from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select, text
from temporalio.service import RPCError

from dealerflow.contracts.orders import workflow_id_for
from dealerflow.core.temporal import connect
from dealerflow.models import (AccountEntry, Decision, Dealer, HistoryImport, HumanTask, Order, OrderEvent, OrderLine,
                               OrderReturn, Payment)
from dealerflow.tiering import runs as tiering

HEADER = ("record,order_ref,dealer,status,placed_at,shipped_at,delivered_at,sku,quantity,unit_price,"
          "reference,returned_at,reason,amount,paid_at,method\n")


def refs(n: int = 3) -> list[str]:
    tag = uuid.uuid4().hex[:8].upper()
    return [f"{tag}-{i}" for i in range(n)]


def history_csv(dealer: str, sku: str, r: list[str]) -> str:
    """Two orders of 2025-03 (one delivered, one completed with its payment), a return, a payment on
    account, and a still-shipped order of 2026-06."""
    return HEADER + (
        f",SO-{r[0]},{dealer},delivered,2025-03-01T09:00:00+08:00,2025-03-03,2025-03-05T10:00:00+08:00,{sku},10,95.50,,,,,,\n"
        f"line,SO-{r[0]},{dealer},delivered,2025-03-01T09:00:00+08:00,2025-03-03,2025-03-05T10:00:00+08:00,{sku},2,,,,,,,\n"
        f"line,SO-{r[1]},{dealer},completed,2026-06-10,2026-06-11,2026-06-12,{sku},4,100,,,,,,\n"
        f"line,SO-{r[2]},{dealer},shipped,2026-06-20,2026-06-21,,{sku},1,100,,,,,,\n"
        f"return,SO-{r[0]},,,,,,{sku},3,,RT-{r[0]},2025-03-20,damaged,,,\n"
        f"payment,SO-{r[1]},,,,,,,,,PM-{r[1]},,,400.00,2026-06-30,transfer\n"
        f"payment,,{dealer},,,,,,,,PM-{r[0]},,,500,2025-04-01,\n")


def post_file(client, who, content: bytes, *, name: str = "history.csv", dry_run: bool = False,
              mime: str = "text/csv"):
    return client.post("/api/v1/imports/order-history/file" + ("?dry_run=true" if dry_run else ""),
                       files={"file": (name, content, mime)}, headers=who.headers)


def imported_orders(sessions, r: list[str]) -> list[Order]:
    with sessions() as s:
        return list(s.scalars(select(Order).where(Order.source_ref.in_([f"SO-{x}" for x in r]))
                              .order_by(Order.source_ref)))


def day_sales(sessions, region: str, product_id: int, day: date) -> tuple:
    with sessions() as s:
        return s.execute(text("select delivered_qty, delivered_amount, returned_qty, returned_amount from sales_daily "
                              "where day = :d and region = :r and product_id = :p"),
                         {"d": day, "r": region, "p": product_id}).one_or_none()


def counts(sessions, dealer_id: int) -> dict:
    with sessions() as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model).where(model.dealer_id == dealer_id))
                for model in (Order, OrderReturn, Payment, AccountEntry)}


def test_history_is_written_as_it_happened_and_a_second_import_changes_nothing(client, make_dealer, make_user,
                                                                                 product, sessions, settings):
    dealer, finance = make_dealer(region=f"hist-{uuid.uuid4().hex[:6]}"), make_user("finance")
    code, r = dealer.dealer.code, refs()
    content = history_csv(code, product.sku, r).encode("utf-8-sig")

    first = post_file(client, finance, content)
    assert first.status_code == 201, first.text
    assert {k: first.json()[k] for k in ("rows", "orders", "lines", "returns", "payments", "already")} == {
        "rows": 7, "orders": 3, "lines": 4, "returns": 1, "payments": 2,
        "already": {"orders": 0, "returns": 0, "payments": 0}}

    delivered, completed, shipped = imported_orders(sessions, r)
    assert (delivered.status, delivered.imported, delivered.amount) == ("delivered", True, Decimal("1155.00"))
    assert delivered.created_at == datetime(2025, 3, 1, 1, tzinfo=timezone.utc)  # placed then, not now
    assert delivered.delivered_at == datetime(2025, 3, 5, 2, tzinfo=timezone.utc)
    assert (completed.status, shipped.status, shipped.delivered_at) == ("completed", "shipped", None)
    with sessions() as s:
        prices = s.scalars(select(OrderLine.unit_price).where(OrderLine.order_id == delivered.id)
                           .order_by(OrderLine.line_no)).all()
        assert prices == [Decimal("95.50"), Decimal("100.00")]  # the ERP's price, else the product's
        events = s.execute(select(OrderEvent.status, OrderEvent.at).where(OrderEvent.order_id == completed.id)
                           .order_by(OrderEvent.at, OrderEvent.id)).all()
        assert [e.status for e in events] == ["approved", "shipped", "delivered", "completed"]
        assert events[-1].at == datetime(2026, 6, 29, 16, tzinfo=timezone.utc)  # its payment settled it
        # The ledger: deliveries less the return and the payments, each on its own day.
        ledger = dict(s.execute(select(AccountEntry.value_date, func.sum(AccountEntry.amount))
                                .where(AccountEntry.dealer_id == dealer.dealer.id).group_by(AccountEntry.value_date)).all())
        assert ledger == {date(2025, 3, 5): Decimal("1155.00"), date(2025, 3, 20): Decimal("-286.50"),
                          date(2025, 4, 1): Decimal("-500.00"), date(2026, 6, 12): Decimal("400.00"),
                          date(2026, 6, 30): Decimal("-400.00")}
        # No process was started: no credit decision, no review task, no workflow id.
        ids = [str(o.id) for o in (delivered, completed, shipped)]
        assert not s.scalar(select(func.count()).select_from(Decision).where(Decision.subject_id.in_(ids)))
        assert not s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.subject_id.in_(ids)))
        assert {o.workflow_id for o in (delivered, completed, shipped)} == {""}
    assert not asyncio.run(_workflow_exists(settings, ids[0]))

    # The daily sales rollup (HQ's reports) has the back-dated days, net of the return.
    region = dealer.dealer.region
    assert day_sales(sessions, region, product.id, date(2025, 3, 5)) == (12, Decimal("1155.00"), 0, Decimal("0"))
    assert day_sales(sessions, region, product.id, date(2025, 3, 20)) == (0, Decimal("0"), 3, Decimal("286.50"))

    # The same file again: everything is already there, nothing changes.
    before = counts(sessions, dealer.dealer.id)
    second = post_file(client, finance, content)
    assert second.status_code == 201, second.text
    assert {k: second.json()[k] for k in ("orders", "lines", "returns", "payments", "already")} == {
        "orders": 0, "lines": 0, "returns": 0, "payments": 0,
        "already": {"orders": 3, "returns": 1, "payments": 2}}
    assert counts(sessions, dealer.dealer.id) == before
    assert day_sales(sessions, region, product.id, date(2025, 3, 5)) == (12, Decimal("1155.00"), 0, Decimal("0"))

    # The imports are listed with what they found.
    listed = client.get("/api/v1/imports/order-history", headers=finance.headers).json()
    assert [(x["state"], x["counts"]["orders"]) for x in listed[:2]] == [("imported", 0), ("imported", 3)]


async def _workflow_exists(settings, order_id: str) -> bool:
    temporal = await connect(settings)
    try:
        await temporal.get_workflow_handle(workflow_id_for(order_id)).describe()
        return True
    except RPCError:
        return False


def test_tiering_sees_the_imported_purchases(client, make_dealer, make_user, product, sessions):
    dealer, admin = make_dealer(region=f"hist-{uuid.uuid4().hex[:6]}"), make_user("admin")
    r = refs()
    assert post_file(client, admin, history_csv(dealer.dealer.code, product.sku, r).encode()).status_code == 201
    with sessions() as s:
        row = s.execute(select(Dealer.id, Dealer.region).where(Dealer.id == dealer.dealer.id)).one()
        figures = tiering.figures(s, date(2026, 7, 1), [row])[row.id]
    # 2026-06: the completed order (400); 2025-03: the delivered one less its return (1155 - 286.50).
    assert figures["purchases"] == Decimal("400.00")
    assert figures["prior_purchases"] == Decimal("868.50")


def test_a_bad_row_refuses_the_whole_file_naming_line_and_column(client, make_dealer, make_user, product,
                                                                   sessions):
    dealer, finance = make_dealer(), make_user("finance")
    code, r = dealer.dealer.code, refs()
    future = (datetime.now(timezone.utc) + timedelta(days=3)).date().isoformat()
    content = HEADER + (
        f"line,SO-{r[0]},{code},delivered,2025-03-01,,2025-03-05,{product.sku},10,,,,,,,\n"
        f"line,SO-{r[1]},{code},delivered,2025-03-01,,2025-03-05,{product.sku},-2,,,,,,,\n"
        f"line,SO-{r[2]},NO-SUCH-DEALER,delivered,2025-03-01,,{future},NO-SUCH-SKU,1,,,,,,,\n")
    bad = post_file(client, finance, content.encode())
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][:2] == [
        {"line": 3, "field": "quantity", "message": "must be greater than 0, got '-2'"},
        {"line": 4, "field": "delivered_at", "message": f"'{future}' is in the future"}]
    assert imported_orders(sessions, r) == []  # the good first row was not written either

    # Once every cell reads, the rows are checked against what exists, all problems at once.
    content = content.replace(",-2,", ",2,").replace(future, "2025-03-05")
    bad = post_file(client, finance, content.encode())
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [
        {"line": 4, "field": "dealer", "message": "unknown dealer 'NO-SUCH-DEALER'"},
        {"line": 4, "field": "sku", "message": "unknown SKU 'NO-SUCH-SKU'"}]
    assert imported_orders(sessions, r) == []
    with sessions() as s:
        run = s.scalars(select(HistoryImport).order_by(HistoryImport.id.desc()).limit(1)).one()
        assert (run.state, run.counts) == ("refused", {"problems": 2})
        assert run.problems[0]["place"] == "line 4: dealer: unknown dealer 'NO-SUCH-DEALER'"


def test_rows_of_an_order_must_agree_and_returns_stay_within_what_was_delivered(client, make_dealer, make_user,
                                                                                  product):
    dealer, other, finance = make_dealer(), make_dealer(), make_user("finance")
    code, r = dealer.dealer.code, refs()
    content = HEADER + (
        f"line,SO-{r[0]},{code},delivered,2025-03-01,,2025-03-05,{product.sku},2,,,,,,,\n"
        f"line,SO-{r[0]},{code},delivered,2025-03-02,,2025-03-05,{product.sku},1,,,,,,,\n"
        f"return,SO-{r[0]},,,,,,{product.sku},4,,RT-{r[0]},2025-03-06,,,,\n"
        f"payment,SO-{r[0]},{other.dealer.code},,,,,,,,PM-{r[0]},,,10,2025-03-07,\n"
        f"return,SO-{r[1]},,,,,,{product.sku},1,,RT-{r[0]},2025-03-06,,,,\n")
    bad = post_file(client, finance, content.encode())
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [
        {"line": 3, "field": "placed_at",
         "message": f"order SO-{r[0]} has placed_at 2025-03-01T00:00:00+08:00 on line 2: every line of an order repeats it"},
        {"line": 4, "field": "sku",
         "message": f"4 is more than the 3 unit(s) of {product.sku} delivered and not yet returned on order SO-{r[0]}"},
        {"line": 5, "field": "dealer",
         "message": f"order SO-{r[0]} is dealer {code}'s, not {other.dealer.code}'s"},
        {"line": 6, "field": "order_ref", "message": f"unknown order 'SO-{r[1]}'"},
        {"line": 6, "field": "reference", "message": f"duplicate reference 'RT-{r[0]}' (also on line 4)"}]


def test_json_for_integrations_names_the_place_and_a_dry_run_writes_nothing(client, make_dealer, make_user,
                                                                            product, sessions):
    dealer, admin = make_dealer(), make_user("admin")
    r = refs()
    order = {"order_ref": f"SO-{r[0]}", "dealer": dealer.dealer.code, "status": "delivered",
             "placed_at": "2025-05-01", "delivered_at": "2025-05-03",
             "lines": [{"sku": product.sku, "quantity": 2}, {"sku": product.sku, "quantity": "x"}]}
    bad = client.post("/api/v1/imports/order-history", json={"orders": [order]}, headers=admin.headers)
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [{"field": "orders[0].lines[1].quantity",
                                     "message": "expected a whole number of units, got 'x'"}]

    order["lines"][1]["quantity"] = 3
    body = {"orders": [order], "payments": [{"reference": f"PM-{r[0]}", "order_ref": f"SO-{r[0]}",
                                             "amount": "500.00", "paid_at": "2025-05-10"}]}
    dry = client.post("/api/v1/imports/order-history?dry_run=true", json=body, headers=admin.headers)
    assert dry.status_code == 201, dry.text
    assert (dry.json()["dry_run"], dry.json()["orders"], dry.json()["lines"], dry.json()["payments"]) == (True, 1, 2, 1)
    assert imported_orders(sessions, r) == []  # checked and counted, not written

    done = client.post("/api/v1/imports/order-history", json=body, headers=admin.headers)
    assert done.status_code == 201 and done.json()["orders"] == 1, done.text
    again = client.post("/api/v1/imports/order-history?dry_run=true", json=body, headers=admin.headers)
    assert again.json()["already"] == {"orders": 1, "returns": 0, "payments": 1}

    unknown = client.post("/api/v1/imports/order-history", json={"orders": [{**order, "colour": "red"}]},
                          headers=admin.headers)
    assert unknown.status_code == 422 and unknown.json()["errors"] == [
        {"field": "orders[0].colour", "message": "unknown field"}]


def test_xlsx_and_gb18030_files_read_like_utf8(client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    r = refs()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["order_ref", "dealer", "status", "placed_at", "delivered_at", "sku", "quantity"])
    sheet.append([f"SO-{r[0]}", dealer.dealer.code, "delivered", datetime(2025, 2, 1, 9, 30), date(2025, 2, 3),
                  product.sku, 5])
    buffer = io.BytesIO()
    book.save(buffer)
    xlsx = post_file(client, finance, buffer.getvalue(), name="history.xlsx",
                     mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert xlsx.status_code == 201 and xlsx.json()["lines"] == 1, xlsx.text
    (order,) = imported_orders(sessions, r[:1])
    assert order.created_at == datetime(2025, 2, 1, 1, 30, tzinfo=timezone.utc)  # a time without zone: Beijing

    chinese = ("order_ref,dealer,status,placed_at,delivered_at,sku,quantity,record,reference,returned_at,reason\n"
               f"SO-{r[1]},{dealer.dealer.code},delivered,2025-02-01,2025-02-03,{product.sku},5,,,,\n"
               f"SO-{r[1]},,,,,{product.sku},1,return,RT-{r[1]},2025-02-05,包装破损\n")
    gb = post_file(client, finance, chinese.encode("gb18030"))
    assert gb.status_code == 201 and gb.json()["returns"] == 1, gb.text
    with sessions() as s:
        assert s.scalar(select(OrderReturn.reason).where(OrderReturn.reference == f"RT-{r[1]}")) == "包装破损"


@pytest.mark.parametrize("role", ["hq", "account_manager", "credit_manager"])
def test_only_admins_and_finance_import_history(client, make_user, role):
    r = post_file(client, make_user(role), HEADER.encode())
    assert r.status_code == 403


def test_the_console_page_checks_a_file_in_a_dry_run_then_imports_it(client, make_dealer, make_user, product,
                                                                     sessions):
    from .test_console_imports import login
    dealer, finance = make_dealer(), make_user("finance")
    r = refs()
    login(client, finance.user.username)
    assert client.get("/console/imports/history").status_code == 200
    content = history_csv(dealer.dealer.code, product.sku, r).encode("utf-8-sig")

    def upload(**form):
        return client.post("/console/imports/history", data=form, files={"file": ("erp.csv", content, "text/csv")})

    dry = upload(dry_run="1")
    assert dry.status_code == 200 and "erp.csv checked: nothing was written" in dry.text, dry.text
    assert imported_orders(sessions, r) == []
    done = upload()
    assert done.status_code == 200 and "<dt>New orders</dt><dd>3</dd>" in done.text
    assert "checked (dry run)" in done.text  # the dry run is listed under the recent imports
    bad = client.post("/console/imports/history",
                      files={"file": ("bad.csv", (HEADER + ",SO-x,NOPE,delivered,2025-01-01,,2025-01-02,X,1,,,,,,,\n")
                                      .encode(), "text/csv")})
    assert bad.status_code == 422 and "bad.csv was not imported" in bad.text
    assert '<td data-label="Line" class="num">2</td>' in bad.text


def test_the_demo_history_imports_cleanly_and_its_completed_orders_are_paid(client, make_dealer, make_user,
                                                                            product, sessions):
    from launcher.demo import demo_history
    dealers, finance = [make_dealer() for _ in range(3)], make_user("finance")
    with sessions() as s:
        data = demo_history(s, dealers=[d.dealer.code for d in dealers], seed=uuid.uuid4().int % 10**6,
                            today=date.today())
    r = post_file(client, finance, data)
    assert r.status_code == 201, r.text
    assert r.json()["orders"] >= 6 and r.json()["payments"] > 0
    with sessions() as s:
        unpaid = s.scalar(text("""
            select count(*) from orders o join dealers d on d.id = o.dealer_id
            where d.code = any(:codes) and o.status = 'completed'
              and o.amount <> (select sum(amount) from payments p where p.order_id = o.id)"""),
                          {"codes": [d.dealer.code for d in dealers]})
    assert unpaid == 0


def test_every_kind_of_bad_cell_is_named_with_what_was_expected(client, make_dealer, make_user, product):
    dealer, finance = make_dealer(), make_user("finance")
    code, sku, r = dealer.dealer.code, product.sku, refs(12)
    rows = [
        f"refund,SO-{r[0]},{code},delivered,2025-01-01,,2025-01-02,{sku},1,,,,,,,",
        f"line,SO-{r[1]},{code},submitted,2025-01-01,,,{sku},1,,,,,,,",
        f"line,SO-{r[2]},{code},delivered,2026-02-30,,2026-03-01,{sku},1,,,,,,,",
        f"line,SO-{r[3]},{code},delivered,2025-01-01T10:00:00,,2025-01-02,{sku},1,,,,,,,",
        f"line,SO-{r[4]},{code},delivered,0001-01-01,,9999-12-31T23:59:59+14:00,{sku},1,,,,,,,",
        f"line,SO-{r[5]},{code},delivered,2025-01-01,,2025-01-02,{sku},99999999999,1.234,,,,,,",
        f"payment,,,,,,,,,,PM-{r[6]},,,-5,2025-01-01,",
        f"line,SO-{r[7]},{code},delivered,yesterday,,2025-01-02,{sku},1,,,,,,,",
        f"line,SO-{'x' * 70},{code},delivered,2025-01-01,,2025-01-02,{sku},1,,,,,,,",
    ]
    bad = post_file(client, finance, (HEADER + "\n".join(rows) + "\n").encode())
    assert bad.status_code == 422, bad.text
    assert [(e["line"], e["field"], e["message"]) for e in bad.json()["errors"]] == [
        (2, "record", "expected line, return or payment, got 'refund'"),
        (3, "status", "'submitted': an order waiting for its credit decision is placed through the API, not imported"),
        (4, "placed_at", "no such date '2026-02-30'"),
        (5, "placed_at", "'2025-01-01T10:00:00' has no UTC offset: add one (+08:00 for China) or give a date"),
        (6, "delivered_at", "'9999-12-31T23:59:59+14:00' is in the future"),
        (7, "quantity", "must be between 1 and 1000000, got '99999999999'"),
        (7, "unit_price", "expected an amount with at most 2 decimals, got '1.234'"),
        (8, "dealer", "required when no order_ref is given"),
        (8, "amount", "must be greater than 0, got '-5'"),
        (9, "placed_at", "expected an ISO 8601 time with offset (2026-03-05T14:30:00+08:00) or a date (2026-03-05), "
                         "got 'yesterday'"),
        (10, "order_ref", "at most 64 characters, got 73")]

    # An order too large for its amount, and statuses that disagree with their dates.
    rows = [f"line,SO-{r[8]},{code},delivered,2025-01-01,,2025-01-02,{sku},1000000,999999999.00,,,,,,",
            f"line,SO-{r[9]},{code},shipped,2025-01-01,,,{sku},1,,,,,,,",
            f"line,SO-{r[10]},{code},approved,2025-01-05,2025-01-06,2025-01-04,{sku},1,,,,,,,"]
    bad = post_file(client, finance, (HEADER + "\n".join(rows) + "\n").encode())
    assert bad.status_code == 422, bad.text
    assert [(e["line"], e["field"]) for e in bad.json()["errors"]] == [
        (2, "quantity"), (3, "shipped_at"), (4, "shipped_at"), (4, "delivered_at"), (4, "delivered_at")]


def test_a_row_with_more_values_than_columns_refuses_the_file_and_quoted_line_breaks_keep_line_numbers(
        client, make_dealer, make_user, product, sessions):
    dealer, finance = make_dealer(), make_user("finance")
    code, sku, r = dealer.dealer.code, product.sku, refs(2)
    content = ("order_ref,dealer,status,placed_at,delivered_at,sku,quantity,record,reference,returned_at,reason\n"
               f"SO-{r[0]},{code},delivered,2025-01-01,2025-01-03,{sku},2,,,,\n"
               f"SO-{r[0]},,,,,{sku},1,return,RT-{r[0]},2025-01-04,\"broken,\nin two\"\n"
               f"SO-{r[1]},{code},delivered,2025-01-01,2025-01-03,{sku},2,,,,,extra\n")
    bad = post_file(client, finance, content.encode())
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [{"line": 5, "field": None, "message": "12 values for 11 columns"}]
    good = post_file(client, finance, content.replace(",extra", "").encode())
    assert good.status_code == 201 and good.json()["returns"] == 1, good.text
    with sessions() as s:
        assert s.scalar(select(OrderReturn.reason).where(OrderReturn.reference == f"RT-{r[0]}")) == "broken,\nin two"


def test_a_zip_that_is_no_workbook_is_refused_by_name(client, make_user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    r = post_file(client, make_user("admin"), buffer.getvalue(), name="x.xlsx")
    assert r.status_code == 415 and "not a readable XLSX workbook" in r.json()["detail"], r.text


def test_an_imported_shipped_order_goes_on_through_the_ordinary_delivery(client, make_dealer, make_user, product,
                                                                          sessions):
    dealer, finance = make_dealer(), make_user("finance")
    r = refs()
    assert post_file(client, finance, history_csv(dealer.dealer.code, product.sku, r).encode()).status_code == 201
    shipped = imported_orders(sessions, r)[2]
    assert shipped.status == "shipped"
    done = client.post(f"/api/v1/orders/{shipped.id}/deliver", json={"at": "2026-06-25"}, headers=finance.headers)
    assert done.status_code == 200 and done.json()["status"] == "delivered", done.text
    with sessions() as s:
        assert s.scalar(select(AccountEntry.amount).where(AccountEntry.source_type == "order",
                                                          AccountEntry.source_id == str(shipped.id))) == Decimal("100.00")
