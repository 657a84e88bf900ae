"""Dealer requests end to end on the real servers: filing with attachments, routing to the dealer's
account manager, answering, closing through the human task, rating once, reopening, a promotion
application approved in its thread, and bad input refused with nothing written."""
from __future__ import annotations

from sqlalchemy import func, select

from dealerflow.models import ServiceRequest

from .policy_support import PNG
from .service_support import file
from .support import wait_until


def _count(sessions, dealer_id) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(ServiceRequest).where(ServiceRequest.dealer_id == dealer_id))


def _read(client, actor, rid):
    return client.get(f"/api/v1/service/requests/{rid}", headers=actor.headers).json()


def test_a_request_is_answered_closed_rated_once_and_reopened(client, sessions, make_dealer, make_user):
    am = make_user("account_manager")
    dealer = make_dealer(tier="core", account_manager=am.user.username)
    r = file(client, dealer, files=[("photo", ("hinge.png", PNG, "image/png"))])
    assert r.status_code == 201, r.text
    req = r.json()
    rid = req["id"]
    assert (req["status"], req["assignee"], req["tier"], req["category_title"]) == ("open", am.user.username, "core",
                                                                                 "Product question")
    clocks = {c["clock"]: c for c in req["clocks"]}
    assert (clocks["response"]["target_seconds"], clocks["resolution"]["target_seconds"]) == (4 * 3600, 24 * 3600)
    [first] = req["messages"]
    assert first["attachments"][0]["content_type"] == "image/png"
    assert client.get(first["attachments"][0]["url"], headers=dealer.headers).content == PNG
    # the account manager's inbox holds the request's task
    tasks = client.get("/api/v1/tasks", headers=am.headers).json()
    assert any(t["id"] == req["task"]["id"] for t in tasks)

    answered = client.post(f"/api/v1/service/requests/{rid}/messages", data={"text": "Use the silicone grease"},
                           headers=am.headers)
    assert answered.status_code == 201, answered.text
    body = answered.json()
    assert body["status"] == "in_progress" and body["first_response_at"] is not None
    assert {c["clock"]: c["met"] for c in body["clocks"]}["response"] is True

    assert client.post(f"/api/v1/service/requests/{rid}/rating", json={"score": 5},
                       headers=dealer.headers).status_code == 409  # not closed yet
    closed = client.post(f"/api/v1/service/requests/{rid}/close", json={"outcome": "resolved", "comment": "Fixed"},
                         headers=am.headers)
    assert closed.status_code == 202, closed.text
    wait_until(lambda: _read(client, dealer, rid)["status"] == "closed")
    done = _read(client, dealer, rid)
    assert done["outcome"] == "resolved" and done["messages"][-1]["body"] == "Fixed"
    assert all(c["stopped_at"] for c in done["clocks"])

    for score in (0, 6, "5"):
        bad = client.post(f"/api/v1/service/requests/{rid}/rating", json={"score": score}, headers=dealer.headers)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "score", bad.text
    rated = client.post(f"/api/v1/service/requests/{rid}/rating", json={"score": 4, "comment": "quick"},
                        headers=dealer.headers)
    assert rated.status_code == 200 and rated.json()["satisfaction"] == 4
    again = client.post(f"/api/v1/service/requests/{rid}/rating", json={"score": 5}, headers=dealer.headers)
    assert again.status_code == 409 and _read(client, dealer, rid)["satisfaction"] == 4

    reopened = client.post(f"/api/v1/service/requests/{rid}/reopen", json={"text": "It squeaks again"},
                           headers=dealer.headers)
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["reopened"], reopened.json()["satisfaction"]) == (
        "in_progress", 1, None)
    new_task = reopened.json()["task"]["id"]
    assert new_task != req["task"]["id"]
    wait_until(lambda: client.post(f"/api/v1/service/requests/{rid}/close", json={"outcome": "resolved"},
                                   headers=am.headers).status_code == 202)
    wait_until(lambda: _read(client, dealer, rid)["status"] == "closed")


def test_a_promotion_application_is_approved_by_hq_in_its_thread(client, make_dealer, make_user):
    hq = make_user("hq")
    dealer = make_dealer(tier="key")
    r = file(client, dealer, category="promotion", subject="Spring fair", text="Apply for the spring fair promotion")
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert (r.json()["assignee_role"], r.json()["approval"], r.json()["task"]["outcomes"]) == (
        "hq", True, ["approved", "rejected"])
    refused = client.post(f"/api/v1/service/requests/{rid}/close", json={"outcome": "resolved"}, headers=hq.headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "outcome"
    ok = client.post(f"/api/v1/service/requests/{rid}/close", json={"outcome": "approved", "comment": "Go ahead"},
                     headers=hq.headers)
    assert ok.status_code == 202, ok.text
    wait_until(lambda: _read(client, dealer, rid)["outcome"] == "approved")


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(client, sessions, make_dealer):
    dealer = make_dealer()
    unknown = file(client, dealer, category="pricing")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "category"
    empty = file(client, dealer, text="   ")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "text"
    no_subject = file(client, dealer, subject="")
    assert no_subject.status_code == 422 and no_subject.json()["errors"][0]["field"] == "subject"
    mistyped = file(client, dealer, files=[("photo", ("p.jpg", b"MZ\x90\x00not an image", "image/jpeg"))])
    assert mistyped.status_code == 415, mistyped.text
    oversized = file(client, dealer, files=[("photo", ("p.png", PNG + b"\0" * (10 * 1024 * 1024), "image/png"))])
    assert oversized.status_code == 413, oversized.text
    assert _count(sessions, dealer.dealer.id) == 0


def test_another_dealers_request_does_not_exist_for_you(client, make_dealer, make_user):
    mine, theirs = make_dealer(), make_dealer()
    rid = file(client, theirs).json()["id"]
    assert client.get(f"/api/v1/service/requests/{rid}", headers=mine.headers).status_code == 404
    assert client.post(f"/api/v1/service/requests/{rid}/messages", data={"text": "hi"},
                       headers=mine.headers).status_code == 404
    assert client.post(f"/api/v1/service/requests/{rid}/rating", json={"score": 5},
                       headers=mine.headers).status_code == 404
    assert client.get("/api/v1/service/requests/not-a-uuid", headers=mine.headers).status_code == 404
    assert [r["id"] for r in client.get("/api/v1/service/requests", headers=mine.headers).json()] == []
    other_am = make_user("account_manager")
    assert client.get(f"/api/v1/service/requests/{rid}", headers=other_am.headers).status_code == 404


def test_waiting_for_the_dealer_stops_the_clock_until_it_answers(client, make_dealer, make_user):
    hq = make_user("hq")
    dealer = make_dealer(tier="key")
    rid = file(client, dealer).json()["id"]
    waiting = client.post(f"/api/v1/service/requests/{rid}/status", json={"status": "waiting_dealer"},
                          headers=hq.headers)
    assert waiting.status_code == 200 and not any(c["running"] for c in waiting.json()["clocks"])
    assert client.post(f"/api/v1/service/requests/{rid}/status", json={"status": "closed"},
                       headers=hq.headers).status_code == 422
    assert client.post(f"/api/v1/service/requests/{rid}/status", json={"status": "in_progress"},
                       headers=dealer.headers).status_code == 403
    answer = client.post(f"/api/v1/service/requests/{rid}/messages", data={"text": "Here are the photos"},
                         headers=dealer.headers)
    assert answer.json()["status"] == "in_progress" and all(c["running"] for c in answer.json()["clocks"])
