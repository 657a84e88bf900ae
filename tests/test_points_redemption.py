"""Points that buy something: a dealer redeems a catalogue item, the points leave its ledger once
(whatever the retries), HQ fulfils it in a human task, a refusal gives the points back once."""
from __future__ import annotations

from sqlalchemy import select

from dealerflow.models import PointsEntry, Redemption

from .support import wait_until


def _give(sessions, dealer_id, n, source):
    with sessions.begin() as s:
        s.add(PointsEntry(dealer_id=dealer_id, points=n, reason="test", source_type="test", source_id=source))


def _ledger(sessions, dealer_id):
    with sessions() as s:
        return sorted((e.source_type, e.points) for e in s.scalars(select(PointsEntry).where(
            PointsEntry.dealer_id == dealer_id)))


def _task(client, hq, redemption_id):
    def look():
        return next((t for t in client.get("/api/v1/tasks", headers=hq.headers).json()
                     if t.get("subject_id") == redemption_id), None)
    return wait_until(look)


def test_a_redemption_is_fulfilled_or_refused_and_refunded_exactly_once(client, sessions, make_dealer, make_user):
    hq = make_user("hq")
    dealer = make_dealer()
    _give(sessions, dealer.dealer.id, 1500, f"seed-{dealer.dealer.code}")
    catalogue = {i["code"]: i for i in client.get("/api/v1/points/catalogue", headers=dealer.headers).json()}
    assert catalogue["display_kit"]["points"] == 500

    headers = {**dealer.headers, "Idempotency-Key": "kit-1"}
    first = client.post("/api/v1/points/redemptions", json={"item": "display_kit"}, headers=headers)
    again = client.post("/api/v1/points/redemptions", json={"item": "display_kit"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"] and again.json()["balance"] == 1000
    refused = client.post("/api/v1/points/redemptions", json={"item": "promoter_day"}, headers=dealer.headers)
    assert refused.status_code == 409  # 1200 points needed, 1000 available
    unknown = client.post("/api/v1/points/redemptions", json={"item": "yacht"}, headers=dealer.headers)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "item"
    seat = client.post("/api/v1/points/redemptions", json={"item": "training_seat"}, headers=dealer.headers)
    assert seat.status_code == 201 and seat.json()["balance"] == 200

    kit_task = _task(client, hq, first.json()["id"])
    assert client.post(f"/api/v1/tasks/{kit_task['id']}/complete", json={"outcome": "fulfilled"},
                       headers=hq.headers).status_code == 200
    seat_task = _task(client, hq, seat.json()["id"])
    assert client.post(f"/api/v1/tasks/{seat_task['id']}/complete", json={"outcome": "refused",
                                                                      "comment": "No seats left"},
                       headers=hq.headers).status_code == 200

    def settled():
        with sessions() as s:
            return {r.item: r.status for r in s.scalars(select(Redemption).where(
                Redemption.dealer_id == dealer.dealer.id))} == {"display_kit": "fulfilled", "training_seat": "refused"}
    wait_until(settled)
    assert _ledger(sessions, dealer.dealer.id) == sorted([
        ("test", 1500), ("redemption", -500), ("redemption", -800), ("redemption_refund", 800)])
    mine = client.get("/api/v1/points/redemptions", headers=dealer.headers).json()
    assert mine[0]["balance"] == 1000 and {r["status"] for r in mine} == {"fulfilled", "refused"}


def test_the_points_page_redeems_once_per_tap(client, sessions, make_dealer):
    from .test_console_service import login
    dealer = make_dealer()
    _give(sessions, dealer.dealer.id, 600, f"page-{dealer.dealer.code}")
    login(client, dealer.user.username)
    page = client.get("/console/points")
    assert page.status_code == 200 and "600" in page.text and "Store display kit" in page.text
    for _ in range(2):  # a double tap: the same key
        r = client.post("/console/points", data={"item": "display_kit", "key": "display_kit-0"},
                        follow_redirects=False)
        assert r.status_code == 303
    assert _ledger(sessions, dealer.dealer.id) == sorted([("test", 600), ("redemption", -500)])
    refused = client.post("/console/points", data={"item": "display_kit", "key": "display_kit-1"})
    assert refused.status_code == 409 and "500 points needed, 100 available" in refused.text
    assert "requested" in client.get("/console/points").text
