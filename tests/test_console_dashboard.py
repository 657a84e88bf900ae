"""The console's dashboards: HQ's figures with the regional ranking and its chart data, an account
manager's limited to their dealers, a dealer's own view with its rank, the filters, the report pages,
ECharts served from this site, and the admin's map upload."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .policy_support import unique
from .test_console import login
from .test_reports import china, deliver, make_product

TEMPLATES = Path(__file__).resolve().parent.parent / "api" / "templates"


@pytest.fixture
def shop(sessions, make_dealer, make_user):
    """May 2026 in a category of its own: region A 7000 (dealer a 3000, a2 4000; April: a 500),
    region B 1500, region C 400 (April 1000). Dealer a's account manager has no other dealer."""
    category = unique("cat")[:32]
    p1, p2, p3 = (make_product(sessions, category, price, name=name) for price, name in
                  (("100.00", "Oak door"), ("50.00", "Door handle"), ("1000.00", "Glass wall")))
    ra, rb, rc = unique("ra"), unique("rb"), unique("rc")
    am = make_user("account_manager")
    a = make_dealer(region=ra, account_manager=am.user.username)
    a2, b, c = make_dealer(region=ra), make_dealer(region=rb), make_dealer(region=rc)
    deliver(sessions, a, [(p1, 10), (p3, 2)], china("2026-05-10T10:00"))
    deliver(sessions, a, [(p1, 5)], china("2026-04-03T10:00"))
    deliver(sessions, a2, [(p3, 4)], china("2026-05-11T10:00"))
    deliver(sessions, b, [(p2, 30)], china("2026-05-12T10:00"))
    deliver(sessions, c, [(p1, 4)], china("2026-05-13T10:00"))
    deliver(sessions, c, [(p1, 10)], china("2026-04-15T10:00"))
    return dict(category=category, p1=p1, p2=p2, p3=p3, ra=ra, rb=rb, rc=rc, am=am, a=a, a2=a2, b=b, c=c)


def data_block(html: str, block_id: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', html, re.S)
    assert m, f"no data block {block_id}"
    return json.loads(m.group(1))


def section(html: str, section_id: str) -> str:
    m = re.search(rf'<section class="card" id="{section_id}">(.*?)</section>', html, re.S)
    assert m, f"no section {section_id}"
    return m.group(1)


def test_hq_sees_the_regional_ranking_its_chart_data_and_the_top_products(client, make_user, shop):
    hq = make_user("hq")
    login(client, hq.user.username)
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/dashboard"
    r = client.get("/console/dashboard", params={"period": "2026-05", "category": shop["category"]})
    assert r.status_code == 200, r.text
    ranking = section(r.text, "sales")
    positions = [ranking.index(shop[k]) for k in ("ra", "rb", "rc")]
    assert positions == sorted(positions), "regions in the order of their sales"
    assert "¥7,000.00" in ranking and "¥8,900.00" in ranking  # region A and the total
    chart = data_block(r.text, "data-sales")
    assert chart["data"]["regions"] == [shop["ra"], shop["rb"], shop["rc"]]
    assert chart["data"]["current"] == [7000.0, 1500.0, 400.0]
    assert chart["data"]["previous"] == [500.0, 0.0, 1000.0]
    assert chart["data"]["growth"] == [1300.0, None, -60.0]
    assert chart["labels"]["current"] == "This period"
    by_sales = data_block(r.text, "data-by-sales")["data"]
    assert by_sales["values"] == [6000.0, 1500.0, 1400.0]  # glass wall, handles, oak doors
    assert by_sales["names"][0] == f"Glass wall ({shop['p3'].sku})"
    assert data_block(r.text, "data-by-sell-through")["data"]["values"] == [30.0, 14.0, 6.0]
    # every section links its report page and its downloads with the same filters
    query = f"period=2026-05&amp;category={shop['category']}"
    for name in ("sales-by-region", "top-products", "tasks", "settlements", "diversion", "tiers", "silent-dealers"):
        assert f'href="/console/reports/{name}?{query}"' in r.text
        assert f'href="/api/v1/reports/{name}?{query}&amp;format=csv"' in r.text
    assert 'id="map"' in r.text and 'id="policies"' in r.text and 'id="silent"' in r.text

    page = client.get("/console/reports/sales-by-region", params={"period": "2026-05", "category": shop["category"]})
    assert page.status_code == 200
    body = page.text[page.text.index("<tbody>"):]
    assert body.index(shop["ra"]) < body.index(shop["rb"]) < body.index(shop["rc"])
    assert "¥8,900.00" in body and "+1300.00%" in body and "-60.00%" in body
    # the console's cookie downloads the CSV from the API
    csv = client.get("/api/v1/reports/sales-by-region",
                     params={"period": "2026-05", "category": shop["category"], "format": "csv"})
    assert csv.status_code == 200 and shop["rc"] in csv.text and "attachment" in csv.headers["content-disposition"]


def test_an_account_manager_sees_only_their_dealers_figures(client, shop):
    login(client, shop["am"].user.username)
    r = client.get("/console/dashboard", params={"period": "2026-05", "category": shop["category"]})
    assert r.status_code == 200, r.text
    assert shop["ra"] in r.text
    for leak in (shop["rb"], shop["rc"], shop["b"].dealer.code, shop["c"].dealer.code, shop["a2"].dealer.code,
                 "1500.00", "4000.00", "7000.00", "1,500.00", "4,000.00", "7,000.00", "Door handle"):
        assert leak not in r.text, f"{leak} leaks into an account manager's dashboard"
    chart = data_block(r.text, "data-sales")["data"]
    assert chart["regions"] == [shop["ra"]] and chart["current"] == [3000.0]
    for name in ("sales-by-region", "top-products", "diversion", "silent-dealers"):
        page = client.get(f"/console/reports/{name}", params={"period": "2026-05", "category": shop["category"]})
        assert page.status_code == 200 and shop["rb"] not in page.text and "1,500.00" not in page.text and "1500.00" not in page.text
    csv = client.get("/api/v1/reports/sales-by-region",
                     params={"period": "2026-05", "category": shop["category"], "format": "csv"})
    assert csv.status_code == 200 and shop["ra"] in csv.text and shop["rb"] not in csv.text
    assert client.get("/console/dashboard/map").status_code == 200
    assert client.post("/console/dashboard/map", files={"file": ("m.json", b"{}")}).status_code == 403


def test_a_dealer_sees_its_own_sales_its_rank_in_its_region_and_its_top_products(client, shop):
    login(client, shop["a"].user.username)
    r = client.get("/console/dashboard", params={"period": "2026-05", "category": shop["category"]})
    assert r.status_code == 200, r.text
    own = section(r.text, "own-sales")
    assert "¥3,000.00" in own and "¥500.00" in own and "+500.00%" in own
    assert re.search(r"No\. 2 of 2\s*<small", own), own
    assert 'href="/console/rebates"' in r.text
    top = data_block(r.text, "data-by-sales")["data"]
    assert top["values"] == [2000.0, 1000.0]
    for leak in (shop["a2"].dealer.code, shop["b"].dealer.code, shop["rb"], "4000.00", "7000.00", "4,000.00", "7,000.00"):
        assert leak not in r.text
    assert 'name="region"' not in r.text  # a dealer's filters: the period and the category
    assert client.get("/console/reports/tasks").status_code == 403
    mine = client.get("/console/reports/sales-by-region", params={"period": "2026-05", "category": shop["category"]})
    assert mine.status_code == 200 and "¥3,000.00" in mine.text and "7,000.00" not in mine.text
    assert client.get("/console/dashboard/map").status_code == 403


def test_the_filters_narrow_the_figures_and_a_bad_one_is_named(client, make_user, shop):
    login(client, make_user("hq").user.username)
    category = shop["category"]
    only_b = client.get("/console/dashboard", params={"period": "2026-05", "category": category, "region": shop["rb"]})
    assert data_block(only_b.text, "data-sales")["data"]["regions"] == [shop["rb"]]
    assert f'<option value="{shop["rb"]}" selected>' in only_b.text
    april = client.get("/console/dashboard", params={"period": "2026-04", "category": category})
    assert data_block(april.text, "data-sales")["data"]["regions"] == [shop["rc"], shop["ra"]]
    days = client.get("/console/dashboard", params={"from": "2026-05-10", "to": "2026-05-11", "category": category})
    assert data_block(days.text, "data-sales")["data"]["current"] == [7000.0]
    quarter = client.get("/console/reports/top-products", params={"period": "2026-Q2", "category": category})
    assert quarter.status_code == 200 and "Glass wall" in quarter.text
    bad = client.get("/console/dashboard", params={"period": "2026-13"})
    assert bad.status_code == 422 and "is not a period" in bad.text and 'id="sales"' not in bad.text
    both = client.get("/console/reports/tasks", params={"period": "2026-05", "from": "2026-05-01", "to": "2026-05-02"})
    assert both.status_code == 422 and "either a period or from and to" in both.text


def test_echarts_is_served_from_this_site_and_no_page_uses_a_cdn(client, make_user, shop):
    js = client.get("/static/vendor/echarts.min.js")
    assert js.status_code == 200 and "Apache Software Foundation" in js.text[:2000]
    assert client.get("/static/dashboard.js").status_code == 200
    login(client, make_user("admin").user.username)
    pages = [client.get(p, params={"period": "2026-05", "category": shop["category"]}) for p in
             ("/console/dashboard", "/console/dashboard/map", "/console/reports/sales-by-region",
              "/console/reports/policy-effect")]
    assert all(p.status_code == 200 for p in pages)
    assert 'src="/static/vendor/echarts.min.js"' in pages[0].text
    external = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)
    for p in pages:
        assert not external.search(p.text), external.search(p.text).group(0)
    for template in TEMPLATES.glob("*.html"):
        assert not external.search(template.read_text(encoding="utf-8")), template.name


def polygon(x: float, y: float) -> list:
    return [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]]


def test_an_admin_uploads_an_approved_map_and_a_bad_file_is_refused(client, make_user, shop):
    login(client, make_user("admin").user.username)
    params = {"period": "2026-05", "category": shop["category"]}
    for body, message in ((b"not json at all", "not JSON"),
                          (b'{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
                          (json.dumps({"type": "FeatureCollection", "features": [
                              {"type": "Feature", "properties": {"name": "x"},
                               "geometry": {"type": "Point", "coordinates": [1, 2]}}]}).encode(),
                           "not a Polygon or MultiPolygon"),
                          (json.dumps({"type": "FeatureCollection", "features": [
                              {"type": "Feature", "properties": {},
                               "geometry": {"type": "Polygon", "coordinates": polygon(0, 0)}}]}).encode(),
                           "has no name")):
        r = client.post("/console/dashboard/map", files={"file": ("map.geojson", body, "application/geo+json")},
                        data={"approval": "GS(2026)1234号"})
        assert r.status_code == 422 and message in r.text, (message, r.status_code, r.text[-500:])
        assert 'class="error"' in r.text

    good = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": shop["ra"], "adcode": 1, "cp": [0.5, 0.5]},
         "geometry": {"type": "Polygon", "coordinates": polygon(0, 0)}},
        {"type": "Feature", "properties": {"name": shop["rb"]},
         "geometry": {"type": "MultiPolygon", "coordinates": [polygon(2, 0), polygon(4, 0)]}}]}
    r = client.post("/console/dashboard/map", data={"approval": "GS(2026)1234号"}, follow_redirects=False,
                    files={"file": ("map.geojson", json.dumps(good).encode(), "application/geo+json")})
    assert r.status_code == 303, r.text[-500:]
    kept = client.get("/console/dashboard/map/geojson")
    assert kept.status_code == 200
    assert [f["properties"] for f in kept.json()["features"]] == [{"name": shop["ra"], "cp": [0.5, 0.5]},
                                                                  {"name": shop["rb"]}]
    page = client.get("/console/dashboard/map", params=params)
    assert 'data-chart="map"' in page.text and "GS(2026)1234号" in page.text
    assert 'data-geojson="/console/dashboard/map/geojson"' in page.text
    areas = data_block(page.text, "data-map")["data"]["areas"]
    assert [(a["name"], a["value"], a["dealers"]) for a in areas[:3]] == [  # then regions with no sales
        (shop["ra"], 7000.0, 2), (shop["rb"], 1500.0, 1), (shop["rc"], 400.0, 1)]
    assert "Not on the map" in page.text and shop["rc"] in page.text
    dashboard = client.get("/console/dashboard", params=params)
    assert 'data-chart="map"' in dashboard.text


def test_policy_effect_pilot_against_the_rest_before_and_after_on_the_dashboard(client, make_user, make_dealer,
                                                                               sessions):
    import uuid
    from decimal import Decimal

    from sqlalchemy import insert

    from dealerflow.models import Order, Policy, PolicyTarget
    region = unique("rp")
    dealers = [make_dealer(region=region) for _ in range(4)]
    policy_id = unique("pol")
    with sessions.begin() as s:
        s.add(Policy(id=policy_id, version=1, title="Summer push", category="promotion", status="active",
                     workflow_id=f"policy-{policy_id}", published_by="tests"))
        s.flush()
        for n, d in enumerate(dealers):
            s.add(PolicyTarget(policy_id=policy_id, dealer_id=d.dealer.id, pilot=n == 0, targeted_version=1,
                               facts={}, delivered_at=china("2031-06-01T09:00"), delivered_version=1,
                               acknowledged_version=1 if n < 3 else None))
        # the pilot dealer orders after; of the rest one ordered only before, one both, one never
        for d, at in ((dealers[0], "2031-06-10T10:00"), (dealers[1], "2031-05-10T10:00"),
                      (dealers[2], "2031-05-12T10:00"), (dealers[2], "2031-06-12T10:00")):
            oid = uuid.uuid4()
            s.execute(insert(Order).values(id=oid, dealer_id=d.dealer.id, status="approved", amount=Decimal("1.00"),
                                           workflow_id=f"order-{oid}", created_at=china(at), updated_at=china(at)))
    login(client, make_user("hq").user.username)
    r = client.get("/console/dashboard", params={"period": "2031-06", "region": region, "policy": policy_id})
    assert r.status_code == 200, r.text
    assert f'<option value="{policy_id}" selected>' in r.text
    chart = data_block(r.text, "data-policy")
    assert chart["data"] == {"groups": ["pilot", "rest"], "acknowledged": [100.0, 66.7], "before": [0.0, 66.67],
                             "after": [100.0, 33.33]}
    assert chart["labels"]["pilot"] == "Pilot"
    policies = section(r.text, "policies")
    assert "33.3%" in policies and "66.7%" in policies
    assert f"policy={policy_id}&amp;format=csv" in policies
    report = client.get("/console/reports/policy-effect", params={"period": "2031-06", "policy": policy_id})
    assert report.status_code == 200 and "Summer push" in report.text and "33.3%" in report.text
    missing = client.get("/console/reports/policy-effect", params={"policy": "no-such-policy"})
    assert missing.status_code == 404 and "no policy" in missing.text


def test_a_long_report_is_paged_with_the_totals_of_every_row(client, make_user, shop, monkeypatch):
    from api.reports import console
    monkeypatch.setattr(console, "PAGE_SIZE", 2)
    login(client, make_user("hq").user.username)
    params = {"period": "2026-05", "category": shop["category"]}
    first = client.get("/console/reports/sales-by-region", params=params)
    body = first.text[first.text.index("<tbody>"):]
    assert shop["ra"] in body and shop["rb"] in body and shop["rc"] not in body
    assert "Page 1 of 2" in first.text and "¥8,900.00" in body
    assert f'href="?period=2026-05&amp;category={shop["category"]}&amp;page=2"' in first.text
    second = client.get("/console/reports/sales-by-region", params={**params, "page": "2"})
    body = second.text[second.text.index("<tbody>"):]
    assert shop["rc"] in body and shop["ra"] not in body and "¥8,900.00" in body
    assert client.get("/console/reports/sales-by-region", params={**params, "page": "x"}).status_code == 200
