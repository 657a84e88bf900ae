"""The diversion case pages: HQ weighs the alerts, scans, codes, places and the dealer's history on one
page and decides there, confirming the penalty first; a dealer sees only its own cases."""
from __future__ import annotations

from .policy_support import unique
from .support import PASSWORD, send_csrf, wait_until
from .test_diversion import bind, case, load_codes, post_scans, register, scan


def login(client, username: str) -> None:
    send_csrf(client)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_hq_sees_the_evidence_and_confirms_on_the_case_page(client, make_dealer, make_user, product, sessions):
    home, away = unique("reg"), unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer, other = make_dealer(region=home), make_dealer(region=unique("reg"))
    batch_no = register(client, admin, product.sku, 10)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 8)
    opened = post_scans(client, hq, [scan(c, away, price="80.00") for c in codes[:6]])
    [case_id] = opened["cases_opened"]
    wait_until(lambda: case(client, hq, case_id)["task_id"])

    login(client, hq.user.username)
    listed = client.get("/console/cases", params={"region": away})
    assert listed.status_code == 200 and f"/console/cases/{case_id}" in listed.text
    assert "1 case(s)" in listed.text
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    for code in codes[:6]:  # the scans and the codes as shipped
        assert code in page.text
    assert away in page.text and home in page.text  # where they turned up, the region they were shipped for
    assert dealer.dealer.code in page.text and "80.00" in page.text
    assert 'type="checkbox" name="reviewed" required' in page.text  # the penalty is confirmed before it is sent

    task_id = case(client, hq, case_id)["task_id"]
    r = client.post(f"/console/tasks/{task_id}", data={"outcome": "confirm", "comment": "seen in the shop",
                                                        "reviewed": "on"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    decided = wait_until(lambda: (c := case(client, hq, case_id))["status"] == "confirmed" and c)
    page = client.get(f"/console/cases/{case_id}")
    assert "name=\"reviewed\"" not in page.text and str(decided["points"]) in page.text

    # Another dealer's case is not there for a dealer; its own list does not show it.
    client.cookies.clear()
    login(client, other.user.username)
    assert client.get(f"/console/cases/{case_id}").status_code == 404
    assert f"/console/cases/{case_id}" not in client.get("/console/cases").text


def test_the_case_list_pages_and_filters(client, make_dealer, make_user, product, sessions):
    away = unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealers = [make_dealer(region=unique("reg")) for _ in range(3)]
    batch_no = register(client, admin, product.sku, 3)
    load_codes(sessions, batch_no)
    ids = []
    for n, d in enumerate(dealers, 1):
        [code] = bind(client, admin, d, batch_no, n, n)
        ids += post_scans(client, hq, [scan(code, away)])["cases_opened"]
    login(client, hq.user.username)
    page = client.get("/console/cases", params={"region": away, "status": "open"})
    assert "3 case(s)" in page.text and all(f"/console/cases/{i}" in page.text for i in ids)
    assert "0 case(s)" in client.get("/console/cases", params={"region": away, "status": "dismissed"}).text
