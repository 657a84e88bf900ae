"""Channel inventory end to end on the real servers: stock reports and sell-through in (JSON, CSV,
XLSX) with every bad input refused and nothing stored; the daily run measuring health in the
database (reported and estimated stock, with source and age), advice at the rule file's edges
(turnover 60/61 and 90/91 days, cover 7/6) stored with its explanation, the same day twice changing
nothing, one task per account manager; a replenishment draft placed through the credit decision.

Each test keeps to a region of its own: a run measures a region's dealers only."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import uuid
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
from psycopg2.errors import UniqueViolation
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from activities import inventory as inventory_activities
from dealerflow.contracts import InventoryStepInput
from dealerflow.inventory import advice as inventory, health
from dealerflow.models import (HumanTask, InventoryAdvice, InventoryHealth, InventoryRun, Product,
                               SellThrough, StockReport)
from dealerflow.shared.accounts import CHINA

from .policy_support import unique
from .settlement_support import delivered
from .support import wait_until

TODAY = datetime.now(CHINA).date()
DAY = TODAY - timedelta(days=1)


def make_product(sessions, *, pack_size: int = 1, price: str = "100.00") -> Product:
    with sessions.begin() as s:
        p = Product(sku=f"INV-{uuid.uuid4().hex[:8]}", name="Casement window", category="window",
                    unit_price=Decimal(price), pack_size=pack_size)
        s.add(p)
    return p


def report(client, actor, rows, **kw):
    return client.post("/api/v1/inventory/stock-reports", json={"rows": rows}, headers=actor.headers, **kw)


def test_stock_reports_replace_the_day_and_keep_history(client, make_dealer, sessions):
    dealer, product = make_dealer(region=unique("r")), make_product(sessions)
    row = {"sku": product.sku, "day": DAY.isoformat(), "on_hand": 40, "in_transit": 5}
    r = report(client, dealer, [row])
    assert r.status_code == 201, r.text
    assert r.json() == {"rows": 1, "recorded": 1, "unchanged": 0}
    assert report(client, dealer, [row]).json() == {"rows": 1, "recorded": 0, "unchanged": 1}
    assert report(client, dealer, [{**row, "on_hand": 38}]).json()["recorded"] == 1
    with sessions() as s:
        kept = s.execute(select(StockReport.on_hand, StockReport.current).where(
            StockReport.dealer_id == dealer.dealer.id).order_by(StockReport.id)).all()
    assert kept == [(40, False), (38, True)]


def test_bad_stock_reports_are_refused_by_row_and_field_with_nothing_stored(client, make_dealer, sessions):
    dealer, other = make_dealer(region=unique("r")), make_dealer(region=unique("r"))
    product = make_product(sessions)
    future = (datetime.now(CHINA).date() + timedelta(days=1)).isoformat()
    rows = [{"sku": product.sku, "day": DAY.isoformat(), "on_hand": 10},
            {"sku": "NO-SUCH-SKU", "day": DAY.isoformat(), "on_hand": 10},
            {"sku": product.sku, "day": DAY.isoformat(), "on_hand": -3, "dealer": dealer.dealer.code},
            {"sku": product.sku, "day": future, "on_hand": 1},
            {"sku": product.sku, "day": DAY.isoformat(), "on_hand": 1, "dealer": other.dealer.code}]
    r = report(client, dealer, rows)
    assert r.status_code == 422, r.text
    fields = {(e["field"], e["message"].split(" ")[0]) for e in r.json()["errors"]}
    assert ("rows[1].sku", "unknown") in fields
    assert ("rows[2].on_hand", "must") in fields
    assert ("rows[3].day", future) in fields
    assert any(f == "rows[4].dealer" for f, _ in fields)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(StockReport).where(
            StockReport.dealer_id == dealer.dealer.id)) == 0


def test_a_report_older_than_the_days_current_one_is_stale(client, make_dealer, sessions):
    dealer, product = make_dealer(region=unique("r")), make_product(sessions)
    now = datetime.now(timezone.utc)
    row = {"sku": product.sku, "day": DAY.isoformat(), "on_hand": 10, "reported_at": now.isoformat()}
    assert report(client, dealer, [row]).status_code == 201
    r = report(client, dealer, [{**row, "on_hand": 12, "reported_at": (now - timedelta(hours=1)).isoformat()}])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rows[0].reported_at"
    assert "stale" in r.json()["errors"][0]["message"]


def test_csv_and_xlsx_uploads_name_the_line(client, make_dealer, sessions):
    dealer, product = make_dealer(region=unique("r")), make_product(sessions)
    csv = f"sku,day,on_hand\n{product.sku},{DAY.isoformat()},7\nNOPE,{DAY.isoformat()},1\n"
    r = client.post("/api/v1/inventory/stock-reports/upload", content=csv.encode(),
                    headers={**dealer.headers, "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["line"] == 3 and r.json()["errors"][0]["field"] == "sku"
    book = Workbook()
    sheet = book.active
    sheet.append(["sku", "day", "on_hand", "in_transit"])
    sheet.append([product.sku, datetime.combine(DAY, datetime.min.time()), 9, 2])
    data = io.BytesIO()
    book.save(data)
    r = client.post("/api/v1/inventory/stock-reports/upload", headers=dealer.headers,
                    files={"file": ("stock.xlsx", data.getvalue(),
                                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert r.status_code == 201, r.text
    csv = f"sku,day,quantity\n{product.sku},{DAY.isoformat()},4\n"
    r = client.post("/api/v1/inventory/sell-through/upload", content=csv.encode(),
                    headers={**dealer.headers, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    with sessions() as s:
        assert s.scalar(select(StockReport.on_hand).where(StockReport.dealer_id == dealer.dealer.id,
                                                          StockReport.current)) == 9
        assert s.scalar(select(SellThrough.quantity).where(SellThrough.dealer_id == dealer.dealer.id)) == 4


def _stocked(client, dealer, sessions, on_hand: int, *, sold: int = 90, pack_size: int = 1) -> Product:
    """A product the dealer reported `on_hand` of on DAY, having sold `sold` in the last 90 days."""
    product = make_product(sessions, pack_size=pack_size)
    assert report(client, dealer, [{"sku": product.sku, "day": DAY.isoformat(), "on_hand": on_hand}]).status_code == 201
    r = client.post("/api/v1/inventory/sell-through", headers=dealer.headers,
                    json={"rows": [{"sku": product.sku, "day": (DAY - timedelta(days=1)).isoformat(), "quantity": sold}]})
    assert r.status_code == 201, r.text
    return product


def _run(client, hq, region: str) -> dict:
    r = client.post("/api/v1/inventory/runs", json={"day": DAY.isoformat(), "region": region}, headers=hq.headers)
    assert r.status_code == 202, r.text
    return r.json()


def _closed(sessions, region):
    with sessions() as s:
        run = s.get(InventoryRun, (DAY, region))
        return run is not None and run.finished_at is not None


def test_daily_run_advises_at_the_rule_edges_once_with_one_task_per_account_manager(
        client, make_dealer, make_user, sessions):
    region = unique("r")
    manager = make_user("account_manager")
    dealer = make_dealer(region=region, account_manager=manager.user.username)
    hq = make_user("hq")
    products = {n: _stocked(client, dealer, sessions, n, pack_size=12 if n == 6 else 1) for n in (60, 61, 90, 91, 7, 6)}
    assert _run(client, hq, region)["action"] == "started"
    wait_until(lambda: _closed(sessions, region), timeout=60)
    with sessions() as s:
        by_product = {}
        for a in s.scalars(select(InventoryAdvice).where(InventoryAdvice.dealer_id == dealer.dealer.id)):
            by_product.setdefault(a.product_id, []).append(a)
        health = {h.product_id: h for h in s.scalars(select(InventoryHealth).where(
            InventoryHealth.dealer_id == dealer.dealer.id, InventoryHealth.day == DAY))}
    assert health[products[61].id].turnover_days == Decimal("61.0")
    assert health[products[61].id].source == "reported" and health[products[61].id].report_age_days == 0
    actions = {n: sorted(a.action for a in by_product.get(products[n].id, [])) for n in products}
    assert actions == {60: [], 61: ["cut_replenishment"], 90: ["cut_replenishment"], 91: ["clearance"],
                       7: [], 6: ["reorder"]}
    reorder = by_product[products[6].id][0]
    assert reorder.quantity == 24  # up to 30 days of 1 a day, less 6, in packs of 12
    assert reorder.explanation["ruleset"] == "inventory" and reorder.explanation["rule"] == "reorder"
    assert reorder.explanation["figures"]["stock_source"] == "reported"
    assert reorder.explanation["facts"]["stock.cover_days"] == "6.0"
    with sessions() as s:
        tasks = s.scalars(select(HumanTask).where(HumanTask.kind == "inventory_red_items",
                                                  HumanTask.subject_id == f"{DAY}:{region}")).all()
    assert len(tasks) == 1 and tasks[0].assignee_user_id == manager.user.id
    assert tasks[0].payload["items"] == 2  # the clearance and the reorder are red (high)

    # The same day again: nothing new, by the workflow and by the step itself.
    assert _run(client, hq, region)["action"] == "existing"
    with sessions.begin() as s:
        before = s.scalar(select(func.count()).select_from(InventoryAdvice).where(InventoryAdvice.day == DAY))
        inventory.advise_run(s, InventoryStepInput(DAY.isoformat(), region, datetime.now(timezone.utc)))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(InventoryAdvice).where(InventoryAdvice.day == DAY)) == before
        assert s.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.subject_id == f"{DAY}:{region}")) == 1


def test_red_items_of_managers_without_a_login_share_hqs_task_and_earlier_advice_is_handed_over(
        client, make_dealer, make_user, sessions):
    """Two account managers with no login: their dealers' red items make one HQ task that counts
    and lists them all. Advice another run stored earlier that day (here: with another task) is
    handed to this run's task for its dealer's manager."""
    region = unique("r")
    manager = make_user("account_manager")
    ghosts = [make_dealer(region=region, account_manager=unique("nologin")) for _ in range(2)]
    managed = make_dealer(region=region, account_manager=manager.user.username)
    near_out = {d.dealer.id: _stocked(client, d, sessions, 6) for d in (*ghosts, managed)}  # cover 6: reorder
    earlier = uuid.uuid4()
    with sessions.begin() as s:
        s.add(InventoryAdvice(day=DAY, dealer_id=managed.dealer.id, product_id=near_out[managed.dealer.id].id,
                              action="reorder", severity="high", quantity=24, audience=["dealer"], explanation={},
                              task_id=earlier))
    step = InventoryStepInput(DAY.isoformat(), region, datetime.now(timezone.utc))
    with sessions.begin() as s:
        inventory.begin(s, step)
        inventory.measure(s, step)
        result = inventory.advise_run(s, step)
    assert result.red == 3
    by_role = {t.assignee_role: t for t in result.tasks}
    assert set(by_role) == {"hq", "account_manager"}
    hq_task = by_role["hq"]
    assert (hq_task.payload["items"], hq_task.payload["dealers"]) == (2, 2)
    assert sorted(i["dealer"] for i in hq_task.payload["advice"]) == sorted(d.dealer.code for d in ghosts)
    with sessions() as s:
        task_of = dict(s.execute(select(InventoryAdvice.dealer_id, InventoryAdvice.task_id).where(
            InventoryAdvice.day == DAY, InventoryAdvice.dealer_id.in_(list(near_out)))).all())
    assert {task_of[d.dealer.id] for d in ghosts} == {uuid.UUID(hq_task.task_id)}
    assert task_of[managed.dealer.id] == uuid.UUID(by_role["account_manager"].task_id) != earlier


def test_a_measured_day_keeps_its_figures_and_only_adds_pairs_it_lacks(client, make_dealer, sessions):
    """Measuring a day again writes nothing over the figures it has: a later count of a measured pair
    leaves its row as it was, and a pair that was not measured yet is added."""
    region = unique("r")
    dealer = make_dealer(region=region)
    counted, late = make_product(sessions), make_product(sessions)
    assert report(client, dealer, [{"sku": counted.sku, "day": DAY.isoformat(), "on_hand": 40}]).status_code == 201

    def measure() -> int:
        with sessions.begin() as s:
            return health.compute(s, day=DAY, region=region, average_over_days=90, slow_over=None)

    assert measure() == 1
    assert report(client, dealer, [{"sku": counted.sku, "day": DAY.isoformat(), "on_hand": 25},
                                   {"sku": late.sku, "day": DAY.isoformat(), "on_hand": 7}]).status_code == 201
    assert measure() == 1  # only the pair it lacked
    assert measure() == 0
    with sessions() as s:
        rows = dict(s.execute(select(InventoryHealth.product_id, InventoryHealth.on_hand).where(
            InventoryHealth.dealer_id == dealer.dealer.id, InventoryHealth.day == DAY)).all())
    assert rows == {counted.id: 40, late.id: 7}


def test_stock_is_estimated_from_the_last_report_and_movements_since(client, make_dealer, make_user, sessions):
    region = unique("r")
    dealer, hq = make_dealer(region=region), make_user("hq")
    product = make_product(sessions)
    old = DAY - timedelta(days=10)
    assert report(client, dealer, [{"sku": product.sku, "day": old.isoformat(), "on_hand": 100}]).status_code == 201
    delivered(sessions, dealer, product, 20, (DAY - timedelta(days=5)).isoformat())
    client.post("/api/v1/inventory/sell-through", headers=dealer.headers,
                json={"rows": [{"sku": product.sku, "day": (DAY - timedelta(days=3)).isoformat(), "quantity": 30}]})
    never = make_product(sessions)  # never reported: deliveries less sales alone
    delivered(sessions, dealer, never, 15, (DAY - timedelta(days=2)).isoformat())
    _run(client, hq, region)
    wait_until(lambda: _closed(sessions, region), timeout=60)
    r = client.get("/api/v1/inventory/health", params={"region": region}, headers=hq.headers)
    assert r.status_code == 200, r.text
    rows = {h["sku"]: h for h in r.json()}
    assert rows[product.sku]["on_hand"] == 90
    assert rows[product.sku]["source"] == "estimated" and rows[product.sku]["report_age_days"] == 10
    assert rows[never.sku]["on_hand"] == 15 and rows[never.sku]["source"] == "estimated"
    assert rows[never.sku]["report_day"] is None
    mine = client.get("/api/v1/inventory/health", headers=dealer.headers).json()
    assert {h["sku"] for h in mine} == {product.sku, never.sku}


def test_a_replenishment_draft_is_placed_through_the_credit_decision(client, make_dealer, make_user, sessions):
    region = unique("r")
    dealer, hq = make_dealer(region=region), make_user("hq")
    product = _stocked(client, dealer, sessions, 6, pack_size=12)
    _run(client, hq, region)
    wait_until(lambda: _closed(sessions, region), timeout=60)
    r = client.post("/api/v1/inventory/drafts", json={}, headers=dealer.headers)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["lines"][0]["sku"] == product.sku and draft["lines"][0]["quantity"] == 24
    r = client.post(f"/api/v1/inventory/drafts/{draft['id']}/place", json={}, headers=dealer.headers)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "approved" and order["decision"]["ruleset"] == "credit_approval"
    assert order["amount"] == "2400.00"
    placed = client.get("/api/v1/inventory/drafts", headers=dealer.headers).json()[0]
    assert placed["status"] == "placed" and placed["order_id"] == order["id"]
    assert client.post(f"/api/v1/inventory/drafts/{draft['id']}/place", json={},
                       headers=dealer.headers).status_code == 409
    advice = client.get("/api/v1/inventory/advice", headers=dealer.headers).json()
    assert [a["status"] for a in advice] == ["ordered"]
    other = make_dealer(region=region)
    assert client.post(f"/api/v1/inventory/drafts/{draft['id']}/place", json={},
                       headers=other.headers).status_code == 404


def test_clearance_advice_opens_a_policy_draft_for_hq(client, make_dealer, make_user, sessions):
    region = unique("r")
    dealer, hq, admin = make_dealer(region=region), make_user("hq"), make_user("admin")
    product = _stocked(client, dealer, sessions, 95)  # 95 days of turnover: clearance
    _run(client, hq, region)
    wait_until(lambda: _closed(sessions, region), timeout=60)
    r = client.post("/api/v1/inventory/clearance-policy", json={"sku": product.sku, "day": DAY.isoformat()},
                    headers=hq.headers)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["dealers"] == [dealer.dealer.code] and "kind: policy" in draft["text"]
    r = client.post("/api/v1/rules/deploy", params={"filename": draft["filename"]}, content=draft["text"].encode(),
                    headers={**admin.headers, "Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text  # the existing policy machinery takes it as it is
    advice = client.get("/api/v1/inventory/advice", params={"dealer": dealer.dealer.code}, headers=hq.headers).json()
    assert [(a["action"], a["status"]) for a in advice] == [("clearance", "policy_drafted")]
    r = client.post("/api/v1/inventory/clearance-policy", json={"sku": "NO-SUCH"}, headers=hq.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sku"


def test_sale_scans_count_into_sell_through_once_and_a_days_feed_wins(client, make_dealer, make_user, sessions):
    from dealerflow.inventory import reports
    from .test_diversion import bind, load_codes, post_scans, register, scan

    region = unique("r")
    admin, hq = make_user("admin"), make_user("hq")
    dealer, product = make_dealer(region=region), make_product(sessions)
    batch_no = register(client, admin, product.sku, 3)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 3)
    post_scans(client, hq, [scan(codes[0], region, kind="sale"), scan(codes[1], region, kind="sale"),
                            scan(codes[0], region, kind="sale")])  # the first unit scanned twice
    with sessions.begin() as s:
        reports.collect_scan_sales(s, since=datetime.now(timezone.utc) - timedelta(days=2))
    with sessions() as s:
        counted = s.execute(select(SellThrough.source, SellThrough.quantity).where(
            SellThrough.dealer_id == dealer.dealer.id)).all()
    assert counted == [("scan", 2)]  # two units sold, each once
    today = datetime.now(CHINA).date()
    r = client.post("/api/v1/inventory/sell-through", headers=dealer.headers,
                    json={"rows": [{"sku": product.sku, "day": today.isoformat(), "quantity": 5}]})
    assert r.status_code == 201, r.text
    with sessions.begin() as s:
        health.compute(s, day=today, region=region, average_over_days=90, slow_over=None)
    with sessions() as s:
        h = s.scalars(select(InventoryHealth).where(InventoryHealth.dealer_id == dealer.dealer.id,
                                                    InventoryHealth.day == today)).one()
    assert h.sold == 5  # the day's feed, not feed + scans


def test_a_report_older_than_the_days_read_counts_only_what_followed_it(client, make_dealer, make_user, sessions):
    """Only the averaging window's sell-through (and at least health.RECENT_DAYS) is read whole and
    summed with each pair's report; a report older than the days read still counts exactly the days
    after it (also when none of them is recent), and a pair never reported counts them all (by the key)."""
    assert health.RECENT_DAYS < 50  # the shipped file averages over 90 days: 50 days back is read whole
    region = unique("r")
    dealer, hq = make_dealer(region=region), make_user("hq")
    product, never, quiet, late = (make_product(sessions) for _ in range(4))
    assert report(client, dealer, [{"sku": product.sku, "day": (DAY - timedelta(days=50)).isoformat(), "on_hand": 100}]
                  + [{"sku": p.sku, "day": (DAY - timedelta(days=100)).isoformat(), "on_hand": 50}
                     for p in (quiet, late)]).status_code == 201
    rows = [{"sku": sku, "day": (DAY - timedelta(days=back)).isoformat(), "quantity": q}
            for sku in (product.sku, never.sku) for back, q in ((120, 4), (60, 7), (45, 10), (3, 5))]
    rows += [{"sku": p.sku, "day": (DAY - timedelta(days=back)).isoformat(), "quantity": q}
             for p, back, q in ((quiet, 95, 8), (late, 95, 8), (late, 10, 3))]
    r = client.post("/api/v1/inventory/sell-through", headers=dealer.headers, json={"rows": rows})
    assert r.status_code == 201, r.text
    delivered(sessions, dealer, never, 40, (DAY - timedelta(days=65)).isoformat())
    _run(client, hq, region)
    wait_until(lambda: _closed(sessions, region), timeout=60)
    got = {h["sku"]: h for h in client.get("/api/v1/inventory/health", params={"region": region},
                                           headers=hq.headers).json()}
    assert got[product.sku]["on_hand"] == 85  # 100 less the 10 and the 5 sold after the count, not the 7 before
    assert got[product.sku]["source"] == "estimated" and got[product.sku]["report_age_days"] == 50
    assert got[product.sku]["sold"] == 22  # the 90 days' sales (not the 4 of 120 days ago)
    # Never reported: 40 delivered less every sale of the history, the 4 before the 90 days too.
    assert got[never.sku]["on_hand"] == 14 and got[never.sku]["report_day"] is None
    assert got[never.sku]["sold"] == 22
    # Reported before the 90 days: the sales after the report count, before the 90 days (by the key) or in
    # them, also with no sale in them.
    assert got[late.sku]["on_hand"] == 39 and got[late.sku]["sold"] == 3
    assert got[quiet.sku]["on_hand"] == 42 and got[quiet.sku]["sold"] == 0
    assert got[quiet.sku]["report_age_days"] == 100


def test_a_day_measured_in_slices_has_the_figures_of_one_statement(client, make_dealer, sessions):
    """The run measures its dealers in slices (by dealer id) on their own connections: the slices
    together write every pair once, with the same figures as the day measured whole."""
    region = unique("r")
    dealers = [make_dealer(region=region) for _ in range(4)]
    assert {d.dealer.id % 2 for d in dealers} == {0, 1}  # ids are consecutive: both slices hold dealers
    for n, d in enumerate(dealers):
        _stocked(client, d, sessions, 10 * (n + 1), sold=9 * (n + 2))
    columns = [c for c in InventoryHealth.__table__.columns]

    def figures(slices: int) -> list:
        with sessions() as s:
            for n in range(slices):
                health.compute(s, day=DAY, region=region, average_over_days=90, slow_over=Decimal(60),
                               slice=n, slices=slices)
            rows = s.execute(select(*columns).where(InventoryHealth.day == DAY, InventoryHealth.region == region)
                             .order_by(InventoryHealth.dealer_id, InventoryHealth.product_id)).all()
            s.rollback()
        return [tuple(row) for row in rows]

    whole, sliced = figures(1), figures(2)
    assert len(whole) == len(dealers) and sliced == whole


def test_a_slice_is_advised_in_an_adviser_process_and_a_dead_adviser_is_replaced(client, make_dealer, sessions,
                                                                                  monkeypatch):
    """The advice activity runs its slice in the worker's adviser processes. When an adviser dies,
    the attempt fails (Temporal retries it) and the next attempt gets new advisers and writes the
    advice."""
    monkeypatch.setattr(inventory_activities, "HEARTBEAT_SECONDS", 120)  # called here outside an activity
    region = unique("r")
    dealer = make_dealer(region=region)
    product = _stocked(client, dealer, sessions, 6)  # 6 days of cover: reorder
    step = InventoryStepInput(DAY.isoformat(), region, datetime.now(timezone.utc))
    with sessions.begin() as s:
        inventory.begin(s, step)
        inventory.measure(s, step)
    steps = inventory_activities.InventoryActivities(sessions)
    pool = inventory_activities.advisers()
    pool.submit(os._exit, 1).exception(timeout=60)  # an adviser dies
    with pytest.raises(BrokenProcessPool):
        steps.advise_inventory(step)
    assert inventory_activities.advisers() is not pool
    assert steps.advise_inventory(step) == 1
    with sessions() as s:
        assert s.scalars(select(InventoryAdvice.action).where(
            InventoryAdvice.day == DAY, InventoryAdvice.dealer_id == dealer.dealer.id,
            InventoryAdvice.product_id == product.id)).all() == ["reorder"]


def test_two_attempts_at_a_slice_at_once_store_its_advice_once(client, make_dealer, sessions):
    """A slice's first advice goes straight into the table. A second attempt at the same slice that
    starts before the first commits waits on the advice's key and fails when the first commits; its
    retry finds the advice stored and writes nothing."""
    region = unique("r")
    dealer = make_dealer(region=region)
    _stocked(client, dealer, sessions, 6)  # 6 days of cover: reorder
    step = InventoryStepInput(DAY.isoformat(), region, datetime.now(timezone.utc))
    with sessions.begin() as s:
        inventory.begin(s, step)
        inventory.measure(s, step)
    failed = []

    def second_attempt() -> None:
        try:
            with sessions.begin() as s:
                inventory.advise_slice(s, step)
        except UniqueViolation as e:  # raised by the COPY itself
            failed.append(e)
    with sessions() as first:
        assert inventory.advise_slice(first, step) == 1
        attempt = threading.Thread(target=second_attempt)
        attempt.start()
        assert wait_until(lambda: _blocked(sessions, "copy inventory_advice %"), timeout=30)  # on the first's key
        first.commit()
    attempt.join(timeout=30)
    assert len(failed) == 1 and "inventory_advice_once" in str(failed[0])
    with sessions.begin() as s:
        assert inventory.advise_slice(s, step) == 0  # the retry
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(InventoryAdvice).where(
            InventoryAdvice.day == DAY, InventoryAdvice.dealer_id == dealer.dealer.id)) == 1


def test_two_attempts_at_a_slice_at_once_store_its_figures_once(client, make_dealer, sessions):
    """A slice's first figures of a day are inserted plainly. A second attempt at the same slice that
    starts before the first commits waits on the figures' key and fails when the first commits; its
    retry finds the figures stored and writes nothing."""
    region = unique("r")
    dealer = make_dealer(region=region)
    _stocked(client, dealer, sessions, 6)
    step = InventoryStepInput(DAY.isoformat(), region, datetime.now(timezone.utc))
    with sessions.begin() as s:
        inventory.begin(s, step)
    failed = []

    def second_attempt() -> None:
        try:
            with sessions.begin() as s:
                inventory.measure(s, step)
        except IntegrityError as e:
            failed.append(e)
    with sessions() as first:
        assert inventory.measure(first, step) == 1
        attempt = threading.Thread(target=second_attempt)
        attempt.start()
        assert wait_until(lambda: _blocked(sessions, "%with last_report as (select%"), timeout=30)
        first.commit()
    attempt.join(timeout=30)
    assert len(failed) == 1 and isinstance(failed[0].orig, UniqueViolation)
    assert "inventory_health_pkey" in str(failed[0])
    with sessions.begin() as s:
        assert inventory.measure(s, step) == 0  # the retry
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(InventoryHealth).where(
            InventoryHealth.day == DAY, InventoryHealth.dealer_id == dealer.dealer.id)) == 1


def _blocked(sessions, query: str) -> int:
    """Statements like `query` waiting on a lock (another transaction's uncommitted key)."""
    with sessions() as s:  # a transaction of its own: pg_stat_activity is read once per transaction
        return s.scalar(text("select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                             " and query like :query"), {"query": query})


def test_adviser_processes_end_when_their_worker_is_killed():
    """A worker killed outright (out of memory, kill -9) leaves no adviser process behind."""
    worker = subprocess.run(
        [sys.executable, "-c", "import os, signal\n"
         "from activities.inventory import advisers\n"
         "pool = advisers()\n"
         "[f.result(60) for f in [pool.submit(os.getpid) for _ in range(8)]]\n"
         "print(*pool._processes, flush=True)\n"
         "os.kill(os.getpid(), signal.SIGKILL)\n"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    pids = [int(pid) for pid in worker.stdout.split()]
    assert len(pids) == inventory.SLICES

    def ended() -> bool:
        return not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                       for pid in pids)
    assert wait_until(ended, timeout=30), pids
