"""Finance imports the warehouse's and the ERP's CSV files in the console: all rows or none, every
problem named by line, the result counted; the same service as the API's import."""
from __future__ import annotations

from .support import PASSWORD, send_csrf
from .test_fulfilment import approved, now


def login(client, username: str) -> None:
    send_csrf(client)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def upload(client, kind: str, text: str):
    return client.post("/console/imports", data={"kind": kind},
                       files={"file": (f"{kind}.csv", ("\ufeff" + text).encode(), "text/csv")})


def test_a_bad_file_records_nothing_and_names_its_lines_then_a_good_one_is_counted(client, make_dealer, make_user,
                                                                                  product):
    dealer, finance = make_dealer(), make_user("finance")
    ids = [approved(client, dealer, product, q) for q in (1, 2)]
    login(client, finance.user.username)
    assert client.get("/console/imports").status_code == 200

    bad = upload(client, "shipments", "order_id,shipped_at\n" + f"{ids[0]},{now()}\n" + "not-an-order,yesterday\n")
    assert bad.status_code == 422 and "nothing was recorded" in bad.text
    assert '<td data-label="Line" class="num">3</td>' in bad.text  # the bad row, by its line in the file
    order = client.get(f"/api/v1/orders/{ids[0]}", headers=dealer.headers).json()
    assert order["status"] == "approved"  # the good row of a refused file is not recorded either

    good = upload(client, "shipments", "order_id,shipped_at\n" + "".join(f"{i},{now()}\n" for i in ids))
    assert good.status_code == 200 and "imported" in good.text
    assert "<dt>Recorded</dt><dd>2</dd>" in good.text
    assert all(client.get(f"/api/v1/orders/{i}", headers=dealer.headers).json()["status"] == "shipped" for i in ids)


def test_only_staff_who_record_fulfilment_may_import(client, make_dealer, make_user):
    dealer = make_dealer()
    login(client, dealer.user.username)
    assert client.get("/console/imports").status_code == 403
