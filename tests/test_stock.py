"""HQ's stock and its allocation to orders, end to end on the real PostgreSQL and Temporal: stock set
from the ERP (JSON, CSV, .xlsx) and adjusted, reserved by orders in the transaction of their credit
decision, released on cancel and rejection, consumed by shipment, given back by returns; what the
allocation rules decide when stock is short; concurrent orders never oversell; a lost workflow start
is made by the order sweep."""
from __future__ import annotations

import asyncio
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from openpyxl import Workbook
from sqlalchemy import func, select

from dealerflow.contracts import PlaceOrderInput, OrderLineInput
from dealerflow.contracts.orders import workflow_id_for
from dealerflow.models import PendingOrderStart, Stock, StockAllocation, StockMovement
from dealerflow.orders import credit as orders
from dealerflow.shared import credit_points

from .support import wait_until


def order(client, actor, sku, quantity):
    return client.post("/api/v1/orders", json={"lines": [{"sku": sku, "quantity": quantity}]}, headers=actor.headers)


def warehouse(client, hq, code=None):
    code = code or f"W{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/warehouses", json={"code": code, "name": f"Warehouse {code}", "region": "east"},
                    headers=hq.headers)
    assert r.status_code == 201, r.text
    return code


def set_stock(client, hq, rows):
    return client.post("/api/v1/stock", json=rows, headers=hq.headers)


def stock_of(client, hq, sku):
    return {s["warehouse"]: s for s in client.get(f"/api/v1/stock?sku={sku}", headers=hq.headers).json()}


def test_stock_is_set_from_the_erp_listed_and_bad_rows_change_nothing(client, make_user, make_dealer, product,
                                                                      sessions):
    hq = make_user("hq")
    w1, w2 = warehouse(client, hq), warehouse(client, hq)
    r = set_stock(client, hq, [{"warehouse": w1, "sku": product.sku, "on_hand": 12},
                               {"warehouse": w2, "sku": product.sku, "on_hand": "3"}])
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 2, "changed": 2, "filled": 0}
    listed = stock_of(client, hq, product.sku)
    assert (listed[w1]["on_hand"], listed[w1]["reserved"], listed[w1]["available"]) == (12, 0, 12)
    assert listed[w2]["on_hand"] == 3

    bad = set_stock(client, hq, [{"warehouse": w1, "sku": product.sku, "on_hand": 5},
                                 {"warehouse": w1, "sku": product.sku, "on_hand": -1},
                                 {"warehouse": "NOWHERE", "sku": product.sku, "on_hand": 1},
                                 {"warehouse": w2, "sku": "NO-SUCH-SKU", "on_hand": 1},
                                 {"warehouse": w2, "sku": product.sku, "on_hand": 1.5}])
    assert bad.status_code == 422, bad.text
    errors = bad.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} >= {(1, "on_hand"), (2, "warehouse"), (3, "sku"), (4, "on_hand")}
    assert any("unknown warehouse 'NOWHERE'" in e["message"] for e in errors)
    assert any("unknown SKU 'NO-SUCH-SKU'" in e["message"] for e in errors)
    assert any("cannot be negative" in e["message"] for e in errors)
    assert stock_of(client, hq, product.sku)[w1]["on_hand"] == 12  # nothing changed, not even row 0

    adjusted = client.post("/api/v1/stock/adjust", json={"warehouse": w1, "sku": product.sku, "delta": -2,
                                                         "reason": "damaged in the yard"}, headers=hq.headers)
    assert adjusted.status_code == 200, adjusted.text
    assert stock_of(client, hq, product.sku)[w1]["on_hand"] == 10
    below = client.post("/api/v1/stock/adjust", json={"warehouse": w1, "sku": product.sku, "delta": -11},
                        headers=hq.headers)
    assert below.status_code == 422 and below.json()["errors"][0]["field"] == "delta"
    unknown = client.post("/api/v1/stock/adjust", json={"warehouse": "NOWHERE", "sku": product.sku, "delta": 1},
                          headers=hq.headers)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "warehouse"
    with sessions() as s:
        moves = s.execute(select(StockMovement.kind, StockMovement.delta).where(
            StockMovement.product_id == product.id).order_by(StockMovement.id)).all()
    assert [tuple(m) for m in moves] == [("set", 12), ("set", 3), ("adjust", -2)]

    dealer = make_dealer()
    assert client.get("/api/v1/stock", headers=dealer.headers).status_code == 403
    assert set_stock(client, dealer, []).status_code == 403


def test_stock_is_imported_from_csv_and_xlsx_all_rows_or_none(client, make_user, product):
    hq = make_user("hq")
    w = warehouse(client, hq)
    csv = f"warehouse,sku,on_hand\n{w},{product.sku},7\n".encode()
    r = client.post("/api/v1/stock/import", content=csv, headers={**hq.headers, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert stock_of(client, hq, product.sku)[w]["on_hand"] == 7

    book = Workbook()
    sheet = book.active
    sheet.append(["warehouse", "sku", "on_hand"])
    sheet.append([w, product.sku, 9])
    data = io.BytesIO()
    book.save(data)
    r = client.post("/api/v1/stock/import", files={"file": ("stock.xlsx", data.getvalue(),
                                                            "application/vnd.openxmlformats-officedocument."
                                                            "spreadsheetml.sheet")}, headers=hq.headers)
    assert r.status_code == 200, r.text
    assert stock_of(client, hq, product.sku)[w]["on_hand"] == 9

    bad = f"warehouse,sku,on_hand\n{w},{product.sku},1\n{w},NOPE,2\n{w},{product.sku},-4\n".encode()
    r = client.post("/api/v1/stock/import", content=bad, headers={**hq.headers, "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert {(e["line"], e["field"]) for e in r.json()["errors"]} == {(3, "sku"), (4, "on_hand"), (4, "sku")}
    assert stock_of(client, hq, product.sku)[w]["on_hand"] == 9


def test_an_order_reserves_stock_cancel_releases_it_and_a_shipment_consumes_it(client, make_user, make_dealer,
                                                                               product, sessions):
    hq = make_user("hq")
    w = warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 10}]).status_code == 200
    dealer = make_dealer()

    first = order(client, dealer, product.sku, 4).json()
    assert first["status"] == "approved"
    assert first["allocation"]["reserved"] == 4 and first["allocation"]["backordered"] == 0
    assert first["allocation"]["decision"] is None  # not short: no allocation rule was asked
    assert [(l["warehouse"], l["quantity"], l["status"]) for l in first["allocation"]["lines"]] == [(w, 4, "reserved")]
    assert stock_of(client, hq, product.sku)[w]["reserved"] == 4

    cancelled = client.post(f"/api/v1/orders/{first['id']}/cancel", headers=dealer.headers)
    assert cancelled.status_code == 200 and cancelled.json()["allocation"]["lines"][0]["status"] == "released"
    assert stock_of(client, hq, product.sku)[w]["reserved"] == 0

    second = order(client, dealer, product.sku, 6).json()
    shipped = client.post(f"/api/v1/orders/{second['id']}/ship", json={}, headers=hq.headers)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["allocation"]["lines"][0]["status"] == "consumed"
    level = stock_of(client, hq, product.sku)[w]
    assert (level["on_hand"], level["reserved"]) == (4, 0)

    # Goods sent back go on hand again where they shipped from.
    assert client.post(f"/api/v1/orders/{second['id']}/deliver", json={}, headers=hq.headers).status_code == 200
    returned = client.post("/api/v1/returns", json=[{"reference": f"R-{uuid.uuid4().hex[:8]}",
                                                     "order_id": second["id"], "sku": product.sku, "quantity": 2,
                                                     "returned_at": datetime.now(timezone.utc).isoformat()}],
                           headers=hq.headers)
    assert returned.status_code == 201, returned.text
    assert stock_of(client, hq, product.sku)[w]["on_hand"] == 6
    with sessions() as s:
        kinds = s.scalars(select(StockMovement.kind).where(StockMovement.product_id == product.id)
                          .order_by(StockMovement.id)).all()
    assert kinds == ["set", "shipment", "return"]

    # On hand cannot be set below what orders hold.
    third = order(client, dealer, product.sku, 5).json()
    assert third["allocation"]["reserved"] == 5
    below = set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 4}])
    assert below.status_code == 422 and "orders hold 5 units" in below.json()["errors"][0]["message"]


def test_a_short_order_waits_and_stock_arriving_goes_to_the_highest_supply_priority_first(
        client, make_user, make_dealer, product, sessions):
    hq = make_user("hq")
    w = warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 2}]).status_code == 200
    normal, penalised, core = make_dealer(), make_dealer(), make_dealer(tier="core")
    with sessions.begin() as s:  # a confirmed diversion case cost this dealer 30 points
        credit_points.book(s, dealer_id=penalised.dealer.id, points=-30, reason="diversion", source_type="test",
                           source_id=str(uuid.uuid4()))

    first = order(client, normal, product.sku, 5).json()  # 2 in stock: 2 reserved, 3 wait
    assert first["status"] == "approved"
    # The answer is written from the placement's own transaction; reading the order back says the same.
    assert client.get(f"/api/v1/orders/{first['id']}", headers=normal.headers).json() == first
    a = first["allocation"]
    assert (a["reserved"], a["backordered"]) == (2, 3)
    assert a["decision"]["outcome"] == {"allocate": "backorder", "priority": 50,
                                        "reason": a["decision"]["outcome"]["reason"]}
    assert a["decision"]["rule"] == "default" and a["decision"]["facts"]["order.short_units"] == 3
    assert a["decision"]["reason_zh"].startswith("现有库存先分配")
    assert "stock short by 3: backorder" in first["history"][-1]["note"]

    late = order(client, penalised, product.sku, 2).json()  # placed earlier than the core dealer, but last
    assert late["allocation"]["decision"]["rule"] == "diversion-penalty-last"
    first_class = order(client, core, product.sku, 2).json()
    assert first_class["allocation"]["decision"]["rule"] == "core-dealers-first"
    assert (late["allocation"]["backordered"], first_class["allocation"]["backordered"]) == (2, 2)

    # The order a shipment needs in full cannot ship while it waits.
    refused = client.post(f"/api/v1/orders/{first['id']}/ship", json={}, headers=hq.headers)
    assert refused.status_code == 409 and "waits for 3 unit(s)" in refused.json()["detail"]

    r = client.post("/api/v1/stock/adjust", json={"warehouse": w, "sku": product.sku, "delta": 4},
                    headers=hq.headers)
    assert r.status_code == 200 and r.json()["filled"] == 4
    read = lambda o: client.get(f"/api/v1/orders/{o['id']}", headers=hq.headers).json()["allocation"]  # noqa: E731
    assert read(first_class)["backordered"] == 0  # priority 100
    assert read(first)["backordered"] == 1  # priority 50: 2 of its 3
    assert read(late)["backordered"] == 2  # priority 0: nothing yet
    level = stock_of(client, hq, product.sku)[w]
    assert (level["on_hand"], level["reserved"], level["available"], level["backordered"]) == (6, 6, 0, 3)

    # A cancelled order lets go of its units: the next in line gets them.
    assert client.post(f"/api/v1/orders/{first_class['id']}/cancel", headers=core.headers).status_code == 200
    assert read(first)["backordered"] == 0 and read(late)["backordered"] == 1


def test_a_level2_dealer_gets_what_is_in_stock_and_a_large_shortage_goes_to_hq(client, make_user, make_dealer,
                                                                               product, sessions):
    hq = make_user("hq")
    w = warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 3}]).status_code == 200
    parent = make_dealer(credit_limit=Decimal("1000000.00"))
    child = make_dealer(level=2, parent_id=parent.dealer.id)
    cut = order(client, child, product.sku, 5).json()
    assert cut["status"] == "approved" and cut["allocation"]["decision"]["outcome"]["allocate"] == "partial"
    assert [l["quantity"] for l in cut["lines"]] == [3] and cut["amount"] == "300.00"
    assert cut["allocation"]["reserved"] == 3 and cut["allocation"]["backordered"] == 0

    nothing = order(client, child, product.sku, 1).json()  # nothing left: a partial allocation is no order
    assert nothing["status"] == "rejected", nothing
    assert nothing["allocation"]["reserved"] == 0

    big = order(client, parent, product.sku, 600).json()
    assert big["status"] == "pending_review"
    assert big["decision"]["rule"] == "approve-within-headroom"  # credit approved it; stock did not
    assert big["allocation"]["decision"]["rule"] == "review-large-shortage"
    assert big["allocation"]["backordered"] == 600  # held in the queue while HQ decides
    task_id = wait_until(lambda: client.get(f"/api/v1/orders/{big['id']}", headers=hq.headers).json()["review_task_id"])
    task = wait_until(lambda: (t := client.get(f"/api/v1/tasks/{task_id}", headers=hq.headers)).status_code == 200
                      and t.json())
    assert task["assignee_role"] == "hq" and task["kind"] == "order_stock_review"
    done = client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "reject"}, headers=hq.headers)
    assert done.status_code == 200, done.text
    final = wait_until(lambda: (o := client.get(f"/api/v1/orders/{big['id']}", headers=hq.headers).json())
                       ["status"] == "rejected" and o)
    assert final["allocation"]["backordered"] == 0
    assert {l["status"] for l in final["allocation"]["lines"]} == {"released"}


def test_concurrent_orders_never_oversell(client, make_user, make_dealer, product, sessions):
    hq = make_user("hq")
    w1, w2 = warehouse(client, hq), warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w1, "sku": product.sku, "on_hand": 6},
                                  {"warehouse": w2, "sku": product.sku, "on_hand": 4}]).status_code == 200
    dealers = [make_dealer() for _ in range(5)]
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda i: order(client, dealers[i % 5], product.sku, 1), range(30)))
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert sum(r.json()["allocation"]["reserved"] for r in results) == 10
    assert sum(r.json()["allocation"]["backordered"] for r in results) == 20
    with sessions() as s:
        rows = s.execute(select(Stock.on_hand, Stock.reserved).where(Stock.product_id == product.id)).all()
        held = s.scalar(select(func.sum(StockAllocation.quantity)).where(
            StockAllocation.product_id == product.id, StockAllocation.status == "reserved"))
    assert sorted(tuple(r) for r in rows) == [(4, 4), (6, 6)] and held == 10


def test_a_lost_workflow_start_is_made_by_the_order_sweep(client, make_dealer, product, sessions, settings):
    """The order is committed but the process dies before it starts the workflow: the sweep starts it."""
    from api.orders.temporal import run_order_sweep
    from dealerflow.core.temporal import connect

    dealer = make_dealer(rating="C")  # sent to review: its workflow opens the task
    order_id = str(uuid.uuid4())
    with sessions.begin() as s:
        placed = orders.place(s, PlaceOrderInput(order_id, dealer.dealer.id, [OrderLineInput(product.sku, 1)],
                                                 actor=dealer.user.username), workflow_id_for(order_id))
    assert placed.created and placed.decision.status == "pending_review"
    with sessions() as s:
        assert s.get(PendingOrderStart, uuid.UUID(order_id)) is not None

    async def sweep():
        c = await connect(settings)
        return await run_order_sweep(client=c, task_queue=settings.task_queue,
                                     now=datetime.now(timezone.utc) + timedelta(minutes=5))

    result = asyncio.run(sweep())
    assert order_id in [s.order_id for s in result.starts]
    assert wait_until(lambda: client.get(f"/api/v1/orders/{order_id}", headers=dealer.headers).json()
                      ["review_task_id"])
    with sessions() as s:
        assert s.get(PendingOrderStart, uuid.UUID(order_id)) is None
    again = asyncio.run(sweep())  # nothing left to start
    assert order_id not in [s.order_id for s in again.starts]

    async def find():
        c = await connect(settings)
        return [w async for w in c.list_workflows(f"WorkflowType = 'OrderWorkflow' AND OrderId = '{order_id}' "
                                                    f"AND DealerId = '{dealer.dealer.code}'")]

    assert wait_until(lambda: asyncio.run(find()))[0].id == f"order-{order_id}"


def test_a_placed_order_leaves_nothing_in_the_outbox(client, make_dealer, product, sessions):
    placed = order(client, make_dealer(), product.sku, 1).json()

    def released():
        with sessions() as s:
            return s.get(PendingOrderStart, uuid.UUID(placed["id"])) is None
    assert wait_until(released)


def test_hq_keeps_stock_in_the_console_and_the_order_page_shows_the_allocation(client, make_user, make_dealer,
                                                                               product):
    from .test_console_imports import login

    hq, dealer = make_user("hq"), make_dealer()
    login(client, hq.user.username)
    code = f"W{uuid.uuid4().hex[:6]}"
    r = client.post("/console/warehouses", data={"code": code, "name": "Foshan central", "region": "south"},
                    follow_redirects=True)
    assert r.status_code == 200 and "Foshan central" in r.text

    bad = client.post("/console/stock/import", files={"file": ("stock.csv", f"warehouse,sku,on_hand\n{code},"
                                                      f"{product.sku},-3\n".encode(), "text/csv")})
    assert bad.status_code == 422 and "nothing was changed" in bad.text and "cannot be negative" in bad.text
    good = client.post("/console/stock/import", files={"file": ("stock.csv", f"\ufeffwarehouse,sku,on_hand\n{code},"
                                                       f"{product.sku},3\n".encode(), "text/csv")},
                       follow_redirects=True)
    assert good.status_code == 200 and "1 of 1 row(s) changed" in good.text
    adjusted = client.post("/console/stock/adjust", data={"warehouse": code, "sku": product.sku, "delta": "-1",
                                                          "reason": "count"}, follow_redirects=True)
    assert adjusted.status_code == 200 and "adjusted" in adjusted.text
    assert '<td class="num" data-label="On hand">2</td>' in adjusted.text
    refused = client.post("/console/stock/adjust", data={"warehouse": code, "sku": product.sku, "delta": "-9"})
    assert refused.status_code == 422

    placed = order(client, dealer, product.sku, 5).json()  # 2 reserved, 3 wait
    page = client.get(f"/console/orders/{placed['id']}")
    assert page.status_code == 200
    assert "2 unit(s) reserved, 3 unit(s) waiting for stock." in page.text and "supply priority 50" in page.text

    client.cookies.clear()
    login(client, dealer.user.username)
    assert client.get("/console/stock").status_code == 403


def test_an_order_decided_on_stock_that_moved_before_it_was_locked_is_placed_again(client, make_user, make_dealer,
                                                                                   product, sessions):
    """Stock is read first and locked last; when another order took it in between, the placement
    starts again with the stock locked first, and the answer is that of the stock as it is."""
    from dealerflow.stock import allocation

    hq, dealer = make_user("hq"), make_dealer()
    w = warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 3}]).status_code == 200
    with sessions.begin() as s:
        priced = orders.price_lines(s, [OrderLineInput(product.sku, 2)])
        seen = allocation.lock(s, priced, for_update=False)
        assert seen.short == {}
        with sessions.begin() as other:  # another order takes 2 of the 3
            orders.place(other, PlaceOrderInput(str(uuid.uuid4()), dealer.dealer.id, [OrderLineInput(product.sku, 2)],
                                                actor="x"), "order-x", optimistic=True)
        try:
            allocation.check(s, seen, priced)
            raise AssertionError("the stock moved: check must refuse")
        except allocation.StaleStock:
            pass
    placed = order(client, dealer, product.sku, 2).json()  # 1 left: 1 reserved, 1 waits
    assert (placed["allocation"]["reserved"], placed["allocation"]["backordered"]) == (1, 1)
