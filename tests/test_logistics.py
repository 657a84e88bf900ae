"""Logistics to the dealer's receipt, end to end on real PostgreSQL and Temporal: shipments in
parcels, signed tracking pushes (a bad signature stores nothing), de-duplicated and normalised
events, unmatched waybills kept and listed, the dealer's receipt (or the automatic one), damage
reports as HQ tasks, receipt completing delivery, and parcels signed outside the dealer's area
raising diversion alerts."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from dealerflow.logistics.normalise import state_of
from dealerflow.logistics.places import outside, parse
from dealerflow.logistics.providers import FixtureProvider, Subscribed, fixture_secret
from dealerflow.models import (AccountEntry, Dealer, DiversionAlert, DiversionCase, HumanTask, Order, Parcel, Product,
                               TrackingEvent, TrackingPayload, UnmatchedWaybill)

from .policy_support import PNG
from .support import wait_until
from .test_console import login
from .test_fulfilment import approved

PUSH = "/api/v1/logistics/push/fixture"


def waybill() -> str:
    return f"SF{uuid.uuid4().hex[:12].upper()}"


@pytest.fixture
def fixture(settings) -> FixtureProvider:
    return FixtureProvider(fixture_secret(settings.secret_key))


def ship(client, staff, order_id: str, *waybills: str, carrier: str = "SF", provider: str = "fixture"):
    return client.post(f"/api/v1/orders/{order_id}/parcels", headers=staff.headers,
                       json={"carrier": carrier, "waybills": list(waybills), "provider": provider})


def push(client, fixture, *tracks):
    body, headers = fixture.push(tracks)
    return client.post(PUSH, content=body, headers=headers)


SHIPPED = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=40)


def track(fixture, number: str, *, hours: float = 40, place: str = "广东省深圳市", signed_at: str | None = None):
    """The fixture provider's track of a parcel shipped 40 hours ago, as of `hours` after shipping."""
    return fixture.track(Subscribed("SF", number, SHIPPED, place), now=SHIPPED + timedelta(hours=hours),
                         signed_at=signed_at)


def parcel_row(sessions, number: str) -> Parcel:
    with sessions() as s:
        return s.scalars(select(Parcel).where(Parcel.waybill == number)).one()


def counts(sessions) -> tuple[int, int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(TrackingPayload)),
                s.scalar(select(func.count()).select_from(TrackingEvent)),
                s.scalar(select(func.count()).select_from(UnmatchedWaybill)))


def test_states_and_places_are_normalised():
    assert [state_of(c, "") for c in ("2", "201", "202", "301", "4", "404")] == [
        "in_transit", "at_destination_city", "out_for_delivery", "signed", "exception", "returned"]
    assert state_of(None, "【深圳市】已签收，签收人：前台") == "signed"
    assert state_of("", "快件已被拒收，退回中") == "returned"
    assert state_of("", "快递员正在派送") == "out_for_delivery"
    assert state_of("", "快件离开杭州中转部") == "in_transit"
    assert parse("广东省深圳市南山区") == ("广东", "深圳") and parse("上海市浦东新区") == ("上海", "上海")
    assert outside("浙江省杭州市", province="广东省", city="深圳市") is True
    assert outside("广东省深圳市", province="广东", city="深圳") is False
    assert outside("深圳市", province="广东", city=None) is None  # a bare city against no city: not told


def test_a_bad_signature_is_refused_and_nothing_is_stored(client, fixture, sessions):
    before = counts(sessions)
    body, headers = fixture.push([track(fixture, waybill())])
    forged = body.replace(b"DataSign=", b"DataSign=x")
    assert client.post(PUSH, content=forged, headers=headers).status_code == 401
    assert client.post(PUSH, content=b"RequestData=%7B%7D", headers=headers).status_code == 401
    other = FixtureProvider("not-our-secret").push([track(fixture, waybill())])
    assert client.post(PUSH, content=other[0], headers=other[1]).status_code == 401
    # 快递鸟 has no secret in these settings: every push to it is refused.
    assert client.post("/api/v1/logistics/push/kdniao", content=body, headers=headers).status_code == 401
    assert client.post("/api/v1/logistics/push/nobody", content=body, headers=headers).status_code == 404
    assert counts(sessions) == before


def test_a_signed_but_malformed_push_is_kept_and_refused(client, fixture, sessions):
    from dealerflow.logistics.providers import sign
    data = '{"Data": "not a list"}'
    before = counts(sessions)
    r = client.post(PUSH, content=urlencode({"RequestData": data, "DataSign": sign(data, fixture.secret)}).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422 and "RequestData" in r.text
    after = counts(sessions)
    assert after[0] == before[0] + 1 and after[1:] == before[1:]


def test_shipment_pushes_are_deduplicated_and_the_dealer_confirms_receipt(client, fixture, make_dealer, make_user,
                                                                          product, sessions):
    dealer, hq = make_dealer(province="广东省", city="深圳市"), make_user("hq")
    order_id = approved(client, dealer, product, 2)
    first, second = waybill(), waybill()
    r = ship(client, hq, order_id, first, second)
    assert r.status_code == 201, r.text
    assert [p["state"] for p in r.json()] == ["created", "created"]
    with sessions() as s:
        assert s.get(Order, uuid.UUID(order_id)).status == "shipped"

    partial = track(fixture, first, hours=23)  # up to the destination city
    r = push(client, fixture, partial)
    assert r.status_code == 200 and r.json()["new"] == 4, r.text
    full = track(fixture, first)
    r = push(client, fixture, full, full)  # the whole track again, twice: only the two new events count
    assert r.status_code == 200 and r.json()["new"] == 2 and r.json()["events"] == 12, r.text
    assert push(client, fixture, full).json()["new"] == 0

    parcels = client.get(f"/api/v1/orders/{order_id}/parcels", headers=dealer.headers).json()
    signed = next(p for p in parcels if p["waybill"] == first)
    assert signed["state"] == "signed" and signed["signed_place"] == "广东省深圳市"
    assert [e["state"] for e in signed["events"]] == ["signed", "out_for_delivery", "at_destination_city",
                                                      "in_transit", "in_transit", "in_transit"]
    assert wait_until(lambda: parcel_row(sessions, first).workflow_told)

    r = client.post(f"/api/v1/parcels/{signed['id']}/receipt", headers=dealer.headers)
    assert r.status_code == 200 and r.json()["receipt"] == "confirmed", r.text
    assert r.json()["received_by"] == dealer.user.username
    assert client.post(f"/api/v1/parcels/{signed['id']}/receipt", headers=dealer.headers).status_code == 409
    # The dealer may confirm a parcel whose signing has not been pushed yet.
    other = next(p for p in parcels if p["waybill"] == second)
    assert client.post(f"/api/v1/parcels/{other['id']}/receipt", headers=dealer.headers).status_code == 200
    # Receipt does not deliver unless the company chose so: the order stays shipped, nothing booked.
    with sessions() as s:
        assert s.get(Order, uuid.UUID(order_id)).status == "shipped"


def test_a_dealer_cannot_see_or_confirm_another_dealers_parcels(client, fixture, make_dealer, make_user, product):
    dealer, other, hq = make_dealer(), make_dealer(), make_user("hq")
    order_id = approved(client, dealer, product, 1)
    parcel = ship(client, hq, order_id, waybill()).json()[0]
    assert client.get(f"/api/v1/orders/{order_id}/parcels", headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/parcels/{parcel['id']}/receipt", headers=other.headers).status_code == 404
    assert client.get(f"/api/v1/orders/{order_id}/parcels", headers=hq.headers).status_code == 200


def test_no_waybill_on_a_cancelled_order_and_no_waybill_twice(client, make_dealer, make_user, product, sessions):
    dealer, hq = make_dealer(), make_user("hq")
    order_id = approved(client, dealer, product, 1)
    assert client.post(f"/api/v1/orders/{order_id}/cancel", headers=dealer.headers).status_code == 200
    r = ship(client, hq, order_id, waybill())
    assert r.status_code == 409 and "cancelled" in r.text
    live = approved(client, dealer, product, 1)
    number = waybill()
    assert ship(client, hq, live, number).status_code == 201
    assert ship(client, hq, live, number).status_code == 409
    r = ship(client, hq, live, "A", "A")
    assert r.status_code == 422 and "waybills[1]" in r.text
    assert ship(client, hq, live, "bad waybill!").status_code == 422
    assert ship(client, hq, str(uuid.uuid4()), waybill()).status_code == 404
    assert ship(client, dealer, live, waybill()).status_code == 403
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Parcel).where(Parcel.order_id == uuid.UUID(order_id))) == 0


def test_an_unknown_waybill_is_kept_unmatched_listed_and_replayed(client, fixture, make_dealer, make_user, product,
                                                                  sessions):
    dealer, hq = make_dealer(), make_user("hq")
    number = waybill()
    t = track(fixture, number)
    r = push(client, fixture, t)
    assert r.status_code == 200 and r.json()["unmatched"] == [number] and r.json()["new"] == 0
    push(client, fixture, t)
    listed = client.get("/api/v1/logistics/unmatched", headers=hq.headers).json()
    row = next(u for u in listed if u["waybill"] == number)
    assert row["pushes"] == 2 and row["events"] == 6
    assert client.get("/api/v1/logistics/unmatched", headers=dealer.headers).status_code == 403
    login(client, hq.user.username)
    page = client.get("/console/logistics/unmatched")
    assert page.status_code == 200 and number in page.text
    # A parcel recorded later with that waybill takes the events received so far.
    order_id = approved(client, dealer, product, 1)
    parcel = ship(client, hq, order_id, number).json()[0]
    assert parcel["state"] == "signed" and len(parcel["events"]) == 6
    assert number not in [u["waybill"] for u in client.get("/api/v1/logistics/unmatched", headers=hq.headers).json()]


def test_receipt_delivers_and_silence_confirms_after_the_setting(settings, worker, fixture, make_dealer, make_user,
                                                                 product, sessions):
    quick = settings.with_(receipt_auto_confirm_seconds=1, receipt_completes_delivery=True)
    with TestClient(create_app(quick), headers={"Accept-Language": "en"}) as client:
        dealer, hq = make_dealer(), make_user("hq")
        order_id = approved(client, dealer, product, 3)
        number = waybill()
        assert ship(client, hq, order_id, number).status_code == 201
        assert push(client, fixture, track(fixture, number)).status_code == 200
        assert wait_until(lambda: parcel_row(sessions, number).receipt == "auto_confirmed")
        p = parcel_row(sessions, number)
        assert p.auto_confirmed and p.received_by == "system"
        with sessions() as s:  # the receipt of the last parcel delivered the order and booked it
            assert s.get(Order, uuid.UUID(order_id)).status == "delivered"
            assert s.scalar(select(func.count()).select_from(AccountEntry).where(
                AccountEntry.source_type == "order", AccountEntry.source_id == order_id)) == 1


def test_a_damage_report_opens_a_task_for_hq(client, fixture, make_dealer, make_user, product, sessions):
    dealer, hq = make_dealer(), make_user("hq")
    order_id = approved(client, dealer, product, 1)
    parcel = ship(client, hq, order_id, waybill()).json()[0]
    url = f"/api/v1/parcels/{parcel['id']}/report"
    r = client.post(url, headers=dealer.headers, data={"kind": "damage", "note": "corner crushed"})
    assert r.status_code == 422  # a photo is required
    r = client.post(url, headers=dealer.headers, data={"kind": "damage"},
                    files=[("photo", ("x.txt", b"not an image", "image/png"))])
    assert r.status_code == 415
    r = client.post(url, headers=dealer.headers, data={"kind": "damage", "note": "corner crushed"},
                    files=[("photo", ("box.png", PNG, "image/png"))])
    assert r.status_code == 201, r.text
    assert r.json()["receipt"] == "reported" and r.json()["reports"][0]["photos"] == 1
    photo = f"/api/v1/parcel-reports/{r.json()['reports'][0]['id']}/photos/0"
    assert client.get(photo, headers=hq.headers).content == PNG
    assert client.get(photo, headers=dealer.headers).status_code == 200
    assert client.get(photo, headers=make_dealer().headers).status_code == 404
    assert client.get(photo.replace("/0", "/1"), headers=hq.headers).status_code == 404
    task_id = r.json()["reports"][0]["task_id"]
    assert client.post(f"/api/v1/parcels/{parcel['id']}/receipt", headers=dealer.headers).status_code == 409
    assert wait_until(lambda: client.get(f"/api/v1/tasks/{task_id}", headers=hq.headers).status_code == 200)
    task = client.get(f"/api/v1/tasks/{task_id}", headers=hq.headers).json()
    assert task["kind"] == "parcel_problem" and task["assignee_role"] == "hq"
    r = client.post(f"/api/v1/tasks/{task_id}/complete", headers=hq.headers,
                    json={"outcome": "accept", "comment": "replacement sent"})
    assert r.status_code == 200, r.text
    assert wait_until(lambda: parcel_row(sessions, parcel["waybill"]).received_at is not None)
    read = client.get(f"/api/v1/orders/{order_id}/parcels", headers=dealer.headers).json()[0]
    assert read["reports"][0]["outcome"] == "accept" and read["reports"][0]["resolution"] == "replacement sent"


def test_a_parcel_signed_outside_the_dealers_area_raises_a_diversion_alert(client, fixture, make_dealer, make_user,
                                                                          product, sessions):
    dealer, hq = make_dealer(province="广东省", city="深圳市"), make_user("hq")
    order_id = approved(client, dealer, product, 1)
    number = waybill()
    ship(client, hq, order_id, number)
    assert push(client, fixture, track(fixture, number, signed_at="浙江省杭州市")).status_code == 200
    p = parcel_row(sessions, number)
    assert (p.signed_province, p.signed_city) == ("浙江", "杭州")
    with sessions() as s:
        case = s.scalars(select(DiversionCase).where(DiversionCase.dealer_id == dealer.dealer.id)).one()
        assert case.region == "浙江"
        assert s.scalar(select(DiversionAlert.trigger).where(DiversionAlert.case_id == case.id)) == \
            "signed_outside_region"
    assert wait_until(lambda: _case_task(sessions, case.id))
    # Signed at home: no alert.
    home = approved(client, dealer, product, 1)
    number = waybill()
    ship(client, hq, home, number)
    push(client, fixture, track(fixture, number))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DiversionCase)
                        .where(DiversionCase.dealer_id == dealer.dealer.id)) == 1


def _case_task(sessions, case_id) -> bool:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.subject_type == "diversion_case", HumanTask.subject_id == str(case_id))) == 1


def test_console_hq_ships_and_the_dealer_follows_the_track_and_confirms(client, fixture, make_dealer, make_user,
                                                                       product, sessions):
    dealer, hq, other = make_dealer(), make_user("hq"), make_dealer()
    order_id = approved(client, dealer, product, 1)
    number = waybill()
    login(client, hq.user.username)
    r = client.post(f"/console/orders/{order_id}/parcels", follow_redirects=False,
                    data={"carrier": "SF", "waybills": f"{number}\n", "provider": "fixture",
                          "csrf_token": client.cookies.get("dealerflow_csrf")})
    assert r.status_code == 303, r.text
    push(client, fixture, track(fixture, number))
    login(client, dealer.user.username)
    page = client.get(f"/console/orders/{order_id}")
    assert page.status_code == 200 and number in page.text and "Confirm receipt" in page.text
    assert "已签收" in page.text
    parcel = parcel_row(sessions, number)
    r = client.post(f"/console/parcels/{parcel.id}/receipt", data={"csrf_token": client.cookies.get("dealerflow_csrf")},
                    follow_redirects=False)
    assert r.status_code == 303
    assert parcel_row(sessions, number).receipt == "confirmed"
    login(client, other.user.username)
    assert client.get(f"/console/orders/{order_id}").status_code == 404
    assert client.post(f"/console/parcels/{parcel.id}/receipt",
                       data={"csrf_token": client.cookies.get("dealerflow_csrf")}).status_code == 404


def test_polled_parcels_are_tracked_and_their_workflows_told(client, settings, make_dealer, make_user, product,
                                                             sessions):
    import asyncio

    from api.logistics.temporal import poll_now
    from dealerflow.core.temporal import connect

    dealer, hq = make_dealer(province="广东省", city="深圳市"), make_user("hq")
    order_id = approved(client, dealer, product, 1)
    with sessions.begin() as s:  # placed three days ago, shipped two days ago: the fixture track is complete
        s.get(Order, uuid.UUID(order_id)).created_at = datetime.now(timezone.utc) - timedelta(days=3)
    number = waybill()
    r = client.post(f"/api/v1/orders/{order_id}/parcels", headers=hq.headers, json={
        "carrier": "SF", "waybills": [number], "provider": "fixture",
        "shipped_at": (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()})
    assert r.status_code == 201, r.text

    async def poll():
        return await poll_now(client=await connect(settings), task_queue=settings.task_queue)

    result = asyncio.run(poll())
    assert result.polled >= 1
    p = parcel_row(sessions, number)
    assert p.state == "signed" and p.signed_city == "深圳" and p.workflow_told
    with sessions() as s:
        assert s.scalar(select(TrackingPayload.source).order_by(TrackingPayload.id.desc()).limit(1)) == "poll"
    assert client.post(f"/api/v1/parcels/{p.id}/receipt", headers=dealer.headers).status_code == 200


def test_raw_payloads_are_append_only(sessions):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    with sessions.begin() as s:
        pid = s.execute(text("insert into tracking_payloads (provider, source, body) values ('fixture', 'push', '{}')"
                             " returning id")).scalar_one()
    for statement in ("update tracking_payloads set body = 'x' where id = :id",
                      "delete from tracking_payloads where id = :id"):
        with pytest.raises(DBAPIError, match="append-only"):
            with sessions.begin() as s:
                s.execute(text(statement), {"id": pid})


def test_a_kuaidi100_push_is_checked_and_read():
    import hashlib
    import json as _json
    from dealerflow.core.errors import Unauthenticated
    from dealerflow.logistics.providers import Kuaidi100Provider

    provider = Kuaidi100Provider("kuaidi100", "salt")
    param = _json.dumps({"status": "polling", "lastResult": {"com": "yuantong", "nu": "YT123", "state": "3", "data": [
        {"context": "【深圳市】已签收", "ftime": "2026-12-01 10:00:00", "areaName": "广东省深圳市", "status": "签收"},
        {"context": "快件到达深圳", "ftime": "2026-12-01 06:00:00", "status": "在途"}]}}, ensure_ascii=False)
    sign = hashlib.md5((param + "salt").encode()).hexdigest().upper()
    push = provider.parse_push({}, urlencode({"param": param, "sign": sign}).encode())
    [t] = push.tracks
    assert (t.carrier, t.waybill) == ("yuantong", "YT123")
    assert [state_of(e.code, e.text) for e in t.events] == ["signed", "in_transit"]
    assert t.events[0].place == "广东省深圳市"
    with pytest.raises(Unauthenticated):
        provider.parse_push({}, urlencode({"param": param, "sign": "0" * 32}).encode())


def test_the_dev_demo_ships_d0001s_latest_order_in_tracked_parcels(client, settings, make_dealer, make_user, product,
                                                                   sessions):
    """`dealerflow dev`'s first run (launcher/dev.py): parcels recorded, their workflows started and told;
    an east dealer whose only order waits for stock is not the one it ships outside its city."""
    from launcher.dev import _logistics_demo
    from .test_stock import set_stock, warehouse

    hq = make_user("hq")
    short = Product(sku=f"SKU-{uuid.uuid4().hex[:8]}", name="Short door", category="door", unit_price=Decimal("100.00"))
    with sessions.begin() as s:
        s.add(short)
    assert set_stock(client, hq, [{"warehouse": warehouse(client, hq), "sku": short.sku, "on_hand": 0}]).status_code == 200
    waiting = make_dealer(code=f"A{uuid.uuid4().hex[:9].upper()}")  # sorts before the other tests' east dealers
    r = client.post("/api/v1/orders", json={"lines": [{"sku": short.sku, "quantity": 1}]}, headers=waiting.headers)
    assert r.status_code == 201 and r.json()["status"] == "approved", r.text  # backordered: it waits for stock

    d0001 = make_dealer(code="D0001", name="Hangzhou Demo Doors")  # the demo's login dealer: no other test makes it
    approved(client, d0001, product, 1)  # too recent: the demo ships the one placed days ago
    order_id = approved(client, d0001, product, 2)
    with sessions.begin() as s:
        s.get(Order, uuid.UUID(order_id)).created_at = datetime.now(timezone.utc) - timedelta(days=3)
    _logistics_demo(settings)
    with sessions() as s:
        parcels = s.scalars(select(Parcel).where(Parcel.order_id == uuid.UUID(order_id))).all()
        assert sorted(p.state for p in parcels) == ["in_transit", "out_for_delivery", "signed"]
        assert s.get(Dealer, d0001.dealer.id).city == "杭州市"
        assert s.get(Order, uuid.UUID(order_id)).status == "shipped"
        assert s.get(Order, uuid.UUID(r.json()["id"])).status == "approved"  # still waiting, not shipped
    signed = next(p for p in parcels if p.state == "signed")
    assert signed.workflow_told
    r = client.post(f"/api/v1/parcels/{signed.id}/receipt", headers=d0001.headers)
    assert r.status_code == 200, r.text


def test_console_damage_report_from_a_browser_form(client, make_dealer, make_user, product, sessions):
    """The order page's report form as a browser sends it: multipart, the CSRF token a hidden field."""
    dealer, hq = make_dealer(), make_user("hq")
    order_id = approved(client, dealer, product, 1)
    number = waybill()
    ship(client, hq, order_id, number)
    parcel = parcel_row(sessions, number)
    login(client, dealer.user.username)
    client.event_hooks["request"] = []  # no X-CSRF-Token header: the hidden field carries it
    token = client.cookies.get("dealerflow_csrf")
    r = client.post(f"/console/parcels/{parcel.id}/report", follow_redirects=False,
                    data={"csrf_token": token, "kind": "shortage", "note": "2 of 3 boxes"},
                    files=[("photo", ("boxes.png", PNG, "image/png"))])
    assert r.status_code == 303, r.text
    p = parcel_row(sessions, number)
    assert p.receipt == "reported"
