"""The request pages, phone first: a dealer files a request with a photo and follows it; its account
manager answers, waits for the dealer and closes it; the dealer rates it. Refusals show on the page."""
from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app

from .policy_support import PNG
from .support import PASSWORD, send_csrf, wait_until


def login(client, username: str) -> None:
    send_csrf(client)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_a_request_from_filing_to_rating_in_the_console(client, settings, make_dealer, make_user):
    am = make_user("account_manager")
    dealer = make_dealer(tier="core", account_manager=am.user.username)
    login(client, dealer.user.username)
    form = client.get("/console/service/new")
    assert form.status_code == 200 and 'name="category"' in form.text and 'capture="environment"' in form.text
    refused = client.post("/console/service/new", data={"category": "product", "subject": "Hinge", "text": " "})
    assert refused.status_code == 422 and "must not be empty" in refused.text and 'value="Hinge"' in refused.text
    sent = client.post("/console/service/new", data={"category": "product", "subject": "Hinge squeaks",
                                                     "text": "Which grease?"},
                       files=[("photo", ("h.png", PNG, "image/png"))], follow_redirects=False)
    assert sent.status_code == 303, sent.text
    url = sent.headers["location"]
    page = client.get(url)
    assert page.status_code == 200 and "Hinge squeaks" in page.text and "h.png" in page.text
    assert "due " in page.text
    assert client.get("/console/service").text.count(url) == 1

    with TestClient(create_app(settings), headers={"Accept-Language": "en"}) as staff:
        login(staff, am.user.username)
        assert staff.post(f"{url}/messages", data={"text": "Send a photo of the label"},
                          follow_redirects=False).status_code == 303
        assert staff.post(f"{url}/status", data={"status": "waiting_dealer"}, follow_redirects=False).status_code == 303
        assert "paused: waiting for the dealer" in staff.get(url).text
        assert staff.post(f"{url}/close", data={"outcome": "resolved", "comment": "Use silicone grease"},
                          follow_redirects=False).status_code == 303
    wait_until(lambda: "How satisfied are you" in client.get(url).text)
    assert client.post(f"{url}/rating", data={"score": "9"}).status_code == 422
    assert client.post(f"{url}/rating", data={"score": "5", "comment": "fast"}, follow_redirects=False).status_code == 303
    page = client.get(url).text
    assert "5 / 5" in page and "How satisfied are you" not in page


def test_the_request_pages_speak_chinese(client, make_dealer):
    dealer = make_dealer()
    login(client, dealer.user.username)
    page = client.get("/console/service/new", headers={"Accept-Language": "zh-CN"})
    assert "提交诉求" in page.text and "产品咨询" in page.text


def test_another_dealers_request_page_is_not_found(client, make_dealer):
    mine, theirs = make_dealer(), make_dealer()
    login(client, theirs.user.username)
    sent = client.post("/console/service/new", data={"category": "training", "subject": "Seats",
                                                     "text": "Two seats please"}, follow_redirects=False)
    url = sent.headers["location"]
    client.post("/console/logout")
    login(client, mine.user.username)
    assert client.get(url).status_code == 404


def test_the_sla_report_page_reads_on_a_phone(client, make_user):
    hq = make_user("hq")
    login(client, hq.user.username)
    page = client.get("/console/service/reports")
    assert page.status_code == 200 and "Open backlog by age" in page.text and "By person" in page.text
    refused = client.get("/console/service/reports", params={"since": "yesterday"})
    assert refused.status_code == 422 and "2026-10-08" in refused.text
    zh = client.get("/console/service/reports", headers={"Accept-Language": "zh-CN"})
    assert "诉求时效" in zh.text


def test_the_care_page_lists_contacts_due_and_records_one(client, sessions, make_dealer, make_user):
    from datetime import date

    from dealerflow.care import daily
    am = make_user("account_manager")
    dealer = make_dealer(tier="core", account_manager=am.user.username, cooperation_since=date(2026, 1, 1))
    with sessions.begin() as s:
        daily.run_day(s, date(2031, 6, 12))
    login(client, am.user.username)
    page = client.get("/console/care")
    assert page.status_code == 200 and dealer.dealer.code in page.text and "days overdue" in page.text
    refused = client.post("/console/care/contacts", data={"dealer": dealer.dealer.code, "channel": "phone",
                                                          "note": " "})
    assert refused.status_code == 422
    done = client.post("/console/care/contacts", data={"dealer": dealer.dealer.code, "channel": "phone",
                                                       "note": "Called about the spring fair"}, follow_redirects=False)
    assert done.status_code == 303
    assert dealer.dealer.code not in client.get("/console/care").text
