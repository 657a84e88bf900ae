"""Announcements targeted like policies and conversations with unread counts, on the real servers."""
from __future__ import annotations

from sqlalchemy import select

from dealerflow.models import Notification

from .policy_support import unique


def test_an_announcement_reaches_the_dealers_its_target_selects(client, sessions, make_dealer, make_user):
    hq = make_user("hq")
    region = unique("an")
    core, normal, elsewhere = (make_dealer(region=region, tier="core"), make_dealer(region=region),
                               make_dealer(tier="core"))
    bad = client.post("/api/v1/announcements", json={"title": "t", "body": "b", "target": "dealer.teir == \"core\""},
                      headers=hq.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "target"
    empty = client.post("/api/v1/announcements", json={"title": " ", "body": "b"}, headers=hq.headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "title"
    r = client.post("/api/v1/announcements", json={
        "title": "新品上市", "body": "Core dealers first: the new window range.", "ack_required": True,
        "target": f'dealer.tier == "core" and dealer.region == "{region}"'}, headers=hq.headers)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["recipients"] == 1
    assert [x["id"] for x in client.get("/api/v1/announcements", headers=core.headers).json()] == [a["id"]]
    assert client.get("/api/v1/announcements", headers=normal.headers).json() == []
    assert client.get(f"/api/v1/announcements/{a['id']}", headers=elsewhere.headers).status_code == 404
    opened = client.get(f"/api/v1/announcements/{a['id']}", headers=core.headers).json()
    assert opened["read_at"] is not None and opened["acked_at"] is None
    acked = client.post(f"/api/v1/announcements/{a['id']}/acknowledge", headers=core.headers)
    assert acked.status_code == 200 and acked.json()["acked_at"] is not None
    assert client.post(f"/api/v1/announcements/{a['id']}/acknowledge", headers=normal.headers).status_code == 404
    with sessions() as s:
        assert s.scalar(select(Notification.title).where(Notification.recipient_dealer_id == core.dealer.id,
                                                         Notification.kind == "announcement")) == "新品上市"
    listed = {x["id"]: x for x in client.get("/api/v1/announcements", headers=hq.headers).json()}
    assert listed[a["id"]]["read"] == 1


def test_a_conversation_counts_what_each_side_has_not_read(client, make_dealer, make_user):
    am = make_user("account_manager")
    dealer = make_dealer(account_manager=am.user.username)
    other = make_dealer()
    code = dealer.dealer.code
    assert client.post(f"/api/v1/conversations/{code}/messages", json={"text": " "},
                       headers=dealer.headers).status_code == 422
    for text in ("你好", "Can we get the display kit earlier?"):
        assert client.post(f"/api/v1/conversations/{code}/messages", json={"text": text},
                           headers=dealer.headers).status_code == 201
    [thread] = client.get("/api/v1/conversations", headers=am.headers).json()
    assert (thread["dealer_code"], thread["unread"]) == (code, 2)
    assert [m["body"] for m in client.get(f"/api/v1/conversations/{code}", headers=am.headers).json()] == [
        "你好", "Can we get the display kit earlier?"]
    assert client.get("/api/v1/conversations", headers=am.headers).json()[0]["unread"] == 0
    client.post(f"/api/v1/conversations/{code}/messages", json={"text": "Yes, next week"}, headers=am.headers)
    assert client.get("/api/v1/conversations", headers=dealer.headers).json()[0]["unread"] == 1
    assert client.get(f"/api/v1/conversations/{code}", headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/conversations/{code}/messages", json={"text": "hi"},
                       headers=other.headers).status_code == 404


def test_the_announcement_and_conversation_pages(client, make_dealer, make_user):
    from .test_console_service import login
    hq = make_user("hq")
    dealer = make_dealer(tier="core")
    login(client, hq.user.username)
    refused = client.post("/console/announcements", data={"title": "T", "body": "B", "target": "dealer.tier =="})
    assert refused.status_code == 422 and 'value="T"' in refused.text
    sent = client.post("/console/announcements", data={"title": "Spring fair", "body": "Join us",
                                                       "target": f'dealer.code == "{dealer.dealer.code}"',
                                                       "ack_required": "1"}, follow_redirects=False)
    assert sent.status_code == 303
    url = sent.headers["location"]
    client.post("/console/logout")
    login(client, dealer.user.username)
    assert "Spring fair" in client.get("/console/announcements").text
    assert "Acknowledge" in client.get(url).text
    assert client.post(f"{url}/acknowledge", follow_redirects=False).status_code == 303
    thread = f"/console/conversations/{dealer.dealer.code}"
    assert client.get("/console/conversations", follow_redirects=False).headers["location"] == thread
    assert client.post(thread, data={"text": "Hello HQ"}, follow_redirects=False).status_code == 303
    assert "Hello HQ" in client.get(thread).text
    zh = client.get("/console/announcements", headers={"Accept-Language": "zh-CN"})
    assert "公告" in zh.text
