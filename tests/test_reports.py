"""Reports: exact figures on small known datasets (each test has regions and a product category of
its own, the database being shared), scoping, filters, CSV and XLSX exports."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import insert, select, update

from dealerflow.models import HumanTask, Order, OrderLine, OrderReturn, Product, SalesDaily
from dealerflow.reports import filters as report_filters, sales
from dealerflow.shared.accounts import CHINA

from .policy_support import unique


def china(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def make_product(sessions, category: str, price: str, *, name: str = "Oak door", sku: str | None = None) -> Product:
    with sessions.begin() as s:
        p = Product(sku=sku or unique("SKU"), name=name, category=category, unit_price=Decimal(price))
        s.add(p)
    return p


def deliver(sessions, dealer, lines: list[tuple[Product, int]], at: datetime | None, *,
            delivered_later: datetime | None = None) -> uuid.UUID:
    """A delivered order (delivered at `at`), or one shipped whose delivery is recorded afterwards."""
    order_id = uuid.uuid4()
    amount = sum(p.unit_price * q for p, q in lines)
    with sessions.begin() as s:
        s.execute(insert(Order).values(id=order_id, dealer_id=dealer.dealer.id, status="delivered" if at else "shipped",
                                       amount=amount, workflow_id=f"order-{order_id}", created_at=at or delivered_later,
                                       updated_at=at or delivered_later, shipped_at=at or delivered_later,
                                       delivered_at=at))
        s.execute(insert(OrderLine), [dict(order_id=order_id, line_no=n, product_id=p.id, sku=p.sku, quantity=q,
                                           unit_price=p.unit_price, amount=p.unit_price * q)
                                      for n, (p, q) in enumerate(lines, 1)])
    if delivered_later:
        with sessions.begin() as s:
            s.execute(update(Order).where(Order.id == order_id).values(status="delivered", delivered_at=delivered_later))
    return order_id


def give_back(sessions, dealer, order_id, product: Product, quantity: int, at: datetime) -> None:
    with sessions.begin() as s:
        s.execute(insert(OrderReturn).values(reference=unique("RET"), order_id=order_id, dealer_id=dealer.dealer.id,
                                             product_id=product.id, sku=product.sku, quantity=quantity,
                                             amount=product.unit_price * quantity, returned_at=at, recorded_by="tests"))


@pytest.fixture
def market(sessions, make_dealer):
    """Three regions in one category of their own, May 2026 against April and May 2025:
    B 1500 (nothing before), A 900 + 2000 (a return of 100), C 400 (1000 in April)."""
    category = unique("cat")[:32]
    p1 = make_product(sessions, category, "100.00")
    p2 = make_product(sessions, category, "50.00")
    p3 = make_product(sessions, category, "1000.00")
    ra, rb, rc = unique("ra"), unique("rb"), unique("rc")
    a, b, c = make_dealer(region=ra), make_dealer(region=rb), make_dealer(region=rc)
    a2, a3 = make_dealer(region=ra), make_dealer(region=ra)  # A's region: one sells more, one nothing
    first = deliver(sessions, a, [(p1, 10), (p3, 2)], china("2026-05-10T10:00"))
    give_back(sessions, a, first, p1, 1, china("2026-05-20T10:00"))
    deliver(sessions, a, [(p1, 5)], china("2026-04-03T10:00"))
    deliver(sessions, a, [(p1, 2)], china("2025-05-20T10:00"))
    deliver(sessions, a2, [(p3, 4)], china("2026-05-11T10:00"))
    # B: the 31st at 23:30 China time is May; 00:30 on 1 June is not. Its May delivery is recorded later.
    deliver(sessions, b, [(p2, 30)], None, delivered_later=china("2026-05-31T23:30"))
    deliver(sessions, b, [(p2, 7)], china("2026-06-01T00:30"))
    # C: 00:10 on 1 May China time is still 30 April in UTC.
    deliver(sessions, c, [(p1, 4)], datetime(2026, 4, 30, 16, 10, tzinfo=timezone.utc))
    deliver(sessions, c, [(p1, 10)], china("2026-04-15T10:00"))
    return dict(category=category, p1=p1, p2=p2, p3=p3, a=a, b=b, c=c, a2=a2, a3=a3, ra=ra, rb=rb, rc=rc)


def test_regional_ranking_growth_and_top_products_are_exact(client, make_user, market):
    hq = make_user("hq")
    r = client.get("/api/v1/reports/sales-by-region", params={"period": "2026-05", "category": market["category"]},
                   headers=hq.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["filters"]["previous"] == {"from": "2026-04-01", "to": "2026-04-30"}
    assert body["filters"]["year_ago"] == {"from": "2025-05-01", "to": "2025-05-31"}
    rows = [(x["rank"], x["region"], x["net_amount"], x["previous_amount"], x["year_ago_amount"],
             x["growth_vs_previous_pct"], x["growth_vs_year_ago_pct"]) for x in body["rows"]]
    assert rows == [
        (1, market["ra"], "6900.00", "500.00", "200.00", "1280.00", "3350.00"),  # A 2900 + A2 4000
        (2, market["rb"], "1500.00", "0.00", "0.00", None, None),
        (3, market["rc"], "400.00", "1000.00", "0.00", "-60.00", None),
    ]
    assert body["totals"]["net_amount"] == "8800.00" and body["totals"]["growth_vs_previous_pct"] == "486.67"

    r = client.get("/api/v1/reports/top-products", params={"period": "2026-05", "category": market["category"]},
                   headers=hq.headers)
    body = r.json()
    p1, p2, p3 = market["p1"].sku, market["p2"].sku, market["p3"].sku
    assert body["by_sales"] == [p3, p2, p1]  # 6000, 1500, 1300
    assert body["by_sell_through"] == [p2, p1, p3]  # 30, 13, 6
    assert body["sell_through_measure"] == "net_delivered_quantity"
    assert {x["sku"]: (x["net_amount"], x["net_quantity"]) for x in body["rows"]} == {
        p3: ("6000.00", 6), p2: ("1500.00", 30), p1: ("1300.00", 13)}


def test_the_rollup_and_the_dealers_own_lines_agree(sessions, market):
    with sessions() as s:
        f = report_filters.make(s, period="2026-Q2", category=market["category"])
        ids = [market[k].dealer.id for k in ("a", "b", "c", "a2", "a3")]
        assert sales.sales_by_region(s, filters=f) == sales.sales_by_region(s, filters=f, dealer_ids=ids)
        assert sales.top_products(s, filters=f) == sales.top_products(s, filters=f, dealer_ids=ids)
        june = s.scalars(select(SalesDaily).where(SalesDaily.region == market["rb"])).all()
        assert {(x.day.isoformat(), x.delivered_qty) for x in june} == {("2026-05-31", 30), ("2026-06-01", 7)}


def test_a_dealer_sees_its_own_view_and_nothing_of_another_dealer(client, make_user, market):
    a = market["a"]
    r = client.get("/api/v1/reports/dashboard", params={"period": "2026-05"}, headers=a.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["view"] == "dealer" and body["dealer"]["code"] == a.dealer.code
    assert (body["net_amount"], body["previous_amount"], body["growth_vs_previous_pct"]) == ("2900.00", "500.00",
                                                                                           "480.00")
    assert body["region_rank"] == {"position": 2, "of": 3}
    a2 = client.get("/api/v1/reports/dashboard", params={"period": "2026-05"}, headers=market["a2"].headers).json()
    assert a2["region_rank"] == {"position": 1, "of": 3} and a2["net_amount"] == "4000.00"
    a3 = client.get("/api/v1/reports/dashboard", params={"period": "2026-05"}, headers=market["a3"].headers).json()
    assert a3["region_rank"] == {"position": 3, "of": 3} and a3["growth_vs_previous_pct"] is None

    mine = client.get("/api/v1/reports/top-products", params={"period": "2026-05"}, headers=a.headers).json()
    assert {x["sku"] for x in mine["rows"]} == {market["p1"].sku, market["p3"].sku}
    assert {x["sku"]: x["net_amount"] for x in mine["rows"]}[market["p3"].sku] == "2000.00"  # not A2's 4000
    regions = client.get("/api/v1/reports/sales-by-region", params={"period": "2026-05"}, headers=a.headers).json()
    assert [(x["region"], x["net_amount"]) for x in regions["rows"]] == [(market["ra"], "2900.00")]
    for name in ("tasks", "settlements", "diversion", "tiers", "silent-dealers", "policy-effect"):
        assert client.get(f"/api/v1/reports/{name}", headers=a.headers).status_code == 403, name


def test_filters_narrow_and_bad_ones_name_the_parameter(client, make_user, market):
    hq = make_user("hq")
    r = client.get("/api/v1/reports/sales-by-region", headers=hq.headers,
                   params={"from": "2026-05-01", "to": "2026-05-15", "category": market["category"]})
    body = r.json()
    assert body["filters"]["previous"] == {"from": "2026-04-16", "to": "2026-04-30"}
    assert [(x["region"], x["net_amount"], x["previous_amount"]) for x in body["rows"]] == [
        (market["ra"], "7000.00", "0.00"), (market["rc"], "400.00", "0.00")]
    r = client.get("/api/v1/reports/sales-by-region", headers=hq.headers,
                   params={"period": "2026-05", "category": market["category"], "region": market["rc"]})
    assert [x["region"] for x in r.json()["rows"]] == [market["rc"]]
    bad = [({"period": "2026-13"}, "period"), ({"period": "May"}, "period"), ({"from": "2026-05-01"}, "to"),
           ({"to": "2026-05-01"}, "from"), ({"from": "2026-05-02", "to": "2026-05-01"}, "to"),
           ({"from": "2026-5-1", "to": "2026-05-02"}, "from"), ({"from": "2025-01-01", "to": "2026-05-01"}, "to"),
           ({"period": "2026", "from": "2026-01-01", "to": "2026-01-02"}, "period"),
           ({"region": "nowhere-" + uuid.uuid4().hex}, "region"), ({"category": "nothing"}, "category"),
           ({"format": "pdf"}, "format"), ({"region": "x" * 65}, "region")]
    for params, field in bad:
        r = client.get("/api/v1/reports/top-products", params=params, headers=hq.headers)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e.get("field") for e in r.json()["errors"]] == [field], (params, r.json())
    r = client.get("/api/v1/reports/policy-effect", headers=hq.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "policy"


def test_csv_has_a_bom_and_neutralised_cells_and_xlsx_the_same_rows(client, make_user, sessions, market):
    hq = make_user("hq")
    evil = make_product(sessions, market["category"], "10.00", name="=HYPERLINK(\"http://x\",\"门\")",
                        sku="@" + unique("S"))
    deliver(sessions, market["c"], [(evil, 1)], china("2026-05-12T10:00"))
    params = {"period": "2026-05", "category": market["category"]}
    r = client.get("/api/v1/reports/top-products", params={**params, "format": "csv"}, headers=hq.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="top-products-2026-05.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["rank_by_sales", "rank_by_sell_through", "sku", "name", "category", "net_amount",
                       "net_quantity"]
    last = rows[-1]
    assert last[2] == "'" + evil.sku and last[3] == "'=HYPERLINK(\"http://x\",\"门\")" and last[5] == "10.00"

    r = client.get("/api/v1/reports/sales-by-region", params={**params, "format": "csv"}, headers=hq.headers)
    by_region = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert by_region[3][:6] == ["3", market["rc"], "410.00", "1000.00", "0.00", "-59.00"]  # a number, not neutralised

    for name in ("top-products", "sales-by-region"):
        text = client.get(f"/api/v1/reports/{name}", params={**params, "format": "csv"}, headers=hq.headers)
        x = client.get(f"/api/v1/reports/{name}", params={**params, "format": "xlsx"}, headers=hq.headers)
        assert x.headers["content-type"].startswith("application/vnd.openxmlformats")
        sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
        expected = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
        got = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert len(got) == len(expected), name
        for want, row in zip(expected, got):
            # Numbers are numbers in the workbook (6000.00 reads back as 6000), text is the same text.
            assert [Decimal(c) if isinstance(v, (int, float)) else c for c, v in zip(want, row)] == \
                   [Decimal(str(v)) if isinstance(v, (int, float)) else ("" if v is None else v) for v in row], name


def test_tasks_and_every_report_answer_for_hq(client, make_user, make_dealer, sessions, market):
    hq = make_user("hq")
    dealer = make_dealer(region=unique("rt"))
    now = datetime.now(timezone.utc)
    with sessions.begin() as s:
        for due, status, done in ((now - timedelta(hours=1), "open", None), (now + timedelta(hours=1), "open", None),
                                  (now - timedelta(hours=3), "completed", now - timedelta(hours=2))):
            s.execute(insert(HumanTask).values(
                id=uuid.uuid4(), kind="review", title="t", subject_type="order", subject_id="x",
                dealer_id=dealer.dealer.id, workflow_id="w", assignee_role="finance", outcomes=[], payload={},
                due_at=due, status=status, completed_at=done))
    r = client.get("/api/v1/reports/tasks", params={"region": dealer.dealer.region}, headers=hq.headers)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [{"role": "finance", "open": 2, "overdue": 1, "escalated": 0, "completed": 1,
                                 "completed_late": 1}]
    for name in ("settlements", "diversion", "tiers", "silent-dealers"):
        for fmt in ("json", "csv", "xlsx"):
            r = client.get(f"/api/v1/reports/{name}", params={"period": "2026-Q2", "format": fmt}, headers=hq.headers)
            assert r.status_code == 200, (name, fmt, r.text)
    r = client.get("/api/v1/reports/dashboard", params={"period": "2026-05", "category": market["category"]},
                   headers=hq.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["view"] == "staff" and body["sales"]["totals"]["net_amount"] == "8800.00"
    assert [p["sku"] for p in body["top_products"]["by_sales"]] == [market["p3"].sku, market["p2"].sku,
                                                                   market["p1"].sku]


def test_tiers_silent_dealers_and_diversion_cases_by_region(client, make_user, make_dealer, sessions, product):
    from dealerflow.models import DiversionCase, SilentDealer, TierScore, TieringRun
    hq = make_user("hq")
    region = unique("rz")
    d1, d2, d3 = (make_dealer(region=region, tier="normal") for _ in range(3))
    # Months of this test's own, before any the re-tiering tests run (they go forward from the latest).
    months = ("2019-02", "2019-05")
    with sessions.begin() as s:
        for m in months:
            s.add(TieringRun(month=m, ruleset_version=1, as_of=datetime.fromisoformat(f"{m}-01T00:00+08:00"),
                             workflow_id=f"tiering-{m}", stage="closed", started_by="tests", totals={}))
        s.flush()
        for d, before, after, status in ((d1, "normal", "normal", "unchanged"), (d2, "normal", "key", "applied"),
                                         (d3, "core", "normal", "awaiting_approval")):
            s.add(TierScore(run_month=months[0], dealer_id=d.dealer.id, score=50, dimensions={}, old_tier=before,
                            new_tier=before, old_tags=[], new_tags=[], rule_tags=[], status="unchanged", explanation={}))
            s.add(TierScore(run_month=months[1], dealer_id=d.dealer.id, score=60, dimensions={}, old_tier=before,
                            new_tier=after, old_tags=[], new_tags=[], rule_tags=[], status=status, explanation={}))
        s.add(SilentDealer(dealer_id=d1.dealer.id, run_month=months[1], silent_since=china("2018-10-01T00:00"),
                           flagged_at=china("2019-05-01T09:00"), actions=[]))
        s.add(SilentDealer(dealer_id=d2.dealer.id, run_month=months[1], silent_since=china("2018-10-01T00:00"),
                           flagged_at=china("2019-05-01T09:00"), actions=[], activated_at=china("2019-05-20T09:00")))
        for d, status, points in ((d1, "open", None), (d2, "confirmed", 30), (d3, "dismissed", None)):
            s.add(DiversionCase(dealer_id=d.dealer.id, product_id=product.id, region=region, status=status,
                                first_alert_at=china("2019-05-03T09:00"), opened_at=china("2019-05-03T09:00"),
                                points=points))
    params = {"period": "2019-05", "region": region}
    tiers = client.get("/api/v1/reports/tiers", params=params, headers=hq.headers).json()
    assert (tiers["compared_with"], tiers["run_month"]) == months
    assert tiers["rows"] == [{"region": region, "tier": "core", "dealers": 1},  # its downgrade waits for HQ
                             {"region": region, "tier": "key", "dealers": 1},
                             {"region": region, "tier": "normal", "dealers": 1}]
    assert tiers["movement"] == [{"from_tier": "core", "to_tier": "core", "dealers": 1},
                                 {"from_tier": "normal", "to_tier": "key", "dealers": 1},
                                 {"from_tier": "normal", "to_tier": "normal", "dealers": 1}]
    assert tiers["changed"] == 1
    silent = client.get("/api/v1/reports/silent-dealers", params=params, headers=hq.headers).json()
    assert silent["rows"] == [{"region": region, "silent": 1, "flagged": 2, "activated": 1}]
    cases = client.get("/api/v1/reports/diversion", params=params, headers=hq.headers).json()
    assert cases["rows"] == [{"region": region, "cases": 3, "open": 1, "confirmed": 1, "dismissed": 1, "points": 30}]


def test_policy_effect_by_region_pilot_and_rest_before_and_after(client, make_user, make_dealer, sessions):
    from dealerflow.models import Policy, PolicyTarget
    hq = make_user("hq")
    region = unique("rp")
    dealers = [make_dealer(region=region) for _ in range(4)]
    policy_id = unique("pol")
    delivered = china("2031-06-01T09:00")
    with sessions.begin() as s:
        s.add(Policy(id=policy_id, version=1, title="Summer push", category="promotion", status="active",
                     workflow_id=f"policy-{policy_id}", published_by="tests"))
        s.flush()
        for n, d in enumerate(dealers):
            s.add(PolicyTarget(policy_id=policy_id, dealer_id=d.dealer.id, pilot=n == 0, targeted_version=1, facts={},
                               delivered_at=delivered, delivered_version=1,
                               acknowledged_version=1 if n < 3 else None))
    # The pilot dealer orders after; of the rest one ordered only before, one both, one never.
    orders = [(dealers[0], "2031-06-10T10:00"), (dealers[1], "2031-05-10T10:00"),
              (dealers[2], "2031-05-12T10:00"), (dealers[2], "2031-06-12T10:00")]
    with sessions.begin() as s:
        for d, at in orders:
            oid = uuid.uuid4()
            s.execute(insert(Order).values(id=oid, dealer_id=d.dealer.id, status="approved", amount=Decimal("1.00"),
                                           workflow_id=f"order-{oid}", created_at=china(at), updated_at=china(at)))
    r = client.get("/api/v1/reports/policy-effect", params={"policy": policy_id, "period": "2031-06"},
                   headers=hq.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(x["region"], x["group"], x["delivered"], x["acknowledged"], x["ordered_before"], x["ordered_after"],
             x["conversion_after"]) for x in body["rows"]] == [
        (region, "pilot", 1, 1, 0, 1, "1.0000"), (region, "rest", 3, 2, 2, 1, "0.3333")]
    assert body["groups"]["rest"]["conversion_before"] == "0.6667"
    assert client.get("/api/v1/reports/policy-effect", params={"policy": "nope"},
                      headers=hq.headers).status_code == 404
