"""Anti-diversion end to end on the real servers: codes registered and bound, scans with their
alerts, cases investigated through the human-task workflow, penalties the credit decision reads."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import insert, select, update

from dealerflow.shared import credit_points
from dealerflow.diversion import scans
from dealerflow.models import CodeBatch, CreditPointsEntry, DiversionCase, Order, OrderLine, Product, ProductCode
from dealerflow.core.temporal import connect

from .policy_support import inbox_task, unique
from .support import wait_until

def at(days_ago: float = 0) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()


def register(client, actor, sku: str, count: int) -> str:
    batch_no = unique("B").upper().replace("_", "")
    r = client.post("/api/v1/codes/batches", json={"sku": sku, "batch_no": batch_no, "count": count},
                    headers=actor.headers)
    assert r.status_code == 201, r.text
    assert r.json()["codes"] == count
    return batch_no


def bind(client, actor, dealer, batch_no: str, first: int, last: int) -> list[str]:
    r = client.post("/api/v1/codes/bind", json={"batch_no": batch_no, "first": first, "last": last,
                                                "dealer": dealer.dealer.code}, headers=actor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["bound"] == last - first + 1
    return codes_of(batch_no, first, last)


_CODES: dict[str, list[str]] = {}


def codes_of(batch_no: str, first: int, last: int) -> list[str]:
    return _CODES[batch_no][first - 1:last]


def load_codes(sessions, batch_no: str) -> None:
    with sessions() as s:
        _CODES[batch_no] = list(s.scalars(select(ProductCode.code).join(CodeBatch, CodeBatch.id == ProductCode.batch_id)
                                          .where(CodeBatch.batch_no == batch_no).order_by(ProductCode.serial)))


def scan(code: str, region: str, price: str | None = None, kind: str = "store", scan_id: str | None = None) -> dict:
    row = {"scan_id": scan_id or uuid.uuid4().hex, "code": code, "region": region, "scanned_at": at(), "kind": kind}
    if price is not None:
        row["price"] = price
    return row


def post_scans(client, actor, rows) -> dict:
    r = client.post("/api/v1/scans", json=rows, headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()


def case(client, actor, case_id: int) -> dict:
    r = client.get(f"/api/v1/cases/{case_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()


def investigation(client, hq, case_id: int) -> dict:
    return inbox_task(client, hq, lambda t: t["subject_type"] == "diversion_case" and t["subject_id"] == str(case_id))


def resolve(client, hq, case_id: int, outcome: str, status: str) -> dict:
    task = investigation(client, hq, case_id)
    r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": outcome, "comment": "checked the shop"},
                    headers=hq.headers)
    assert r.status_code == 200, r.text
    return wait_until(lambda: (c := case(client, hq, case_id))["status"] == status and c)


def order(client, dealer, sku: str) -> dict:
    r = client.post("/api/v1/orders", json={"lines": [{"sku": sku, "quantity": 1}]}, headers=dealer.headers)
    assert r.status_code == 201, r.text
    return r.json()


def with_guide_price(sessions, product, price: str) -> None:
    with sessions.begin() as s:
        s.execute(update(Product).where(Product.id == product.id).values(guide_price=Decimal(price)))


def test_diverted_scans_open_a_case_whose_confirmation_the_credit_decision_reads(client, make_dealer, make_user,
                                                                                 product, sessions, settings):
    home, away = unique("reg"), unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer, _ = make_dealer(region=home), make_dealer(region=away)
    batch_no = register(client, admin, product.sku, 30)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 25)

    # 20 units surfacing in another region: bulk diversion, severity high (the rule file's escalation).
    first = post_scans(client, hq, [scan(codes[0], home)] + [scan(c, away) for c in codes[1:21]])
    assert (first["accepted"], first["alerts"], len(first["cases_opened"])) == (21, 20, 1)
    case_id = first["cases_opened"][0]
    task = investigation(client, hq, case_id)
    assert task["kind"] == "diversion_investigation" and task["assignee_role"] == "hq"
    assert task["outcomes"] == ["confirm", "dismiss"] and task["payload"]["dealer"] == dealer.dealer.code
    assert (task["payload"]["severity"], task["payload"]["penalty"]) == ("high", 20)
    assert "bulk-diversion" in task["payload"]["reason"]
    # A further alert about the same dealer, product and region joins the open case.
    more = post_scans(client, hq, [scan(codes[21], away)])
    assert (more["alerts"], more["cases_opened"], more["cases_joined"]) == (1, [], 1)
    listed = client.get("/api/v1/cases", params={"region": away, "status": "open"}, headers=hq.headers).json()
    assert [(c["id"], c["dealer_code"], c["sku"], c["alerts"], c["triggers"]) for c in listed] == [
        (case_id, dealer.dealer.code, product.sku, 21, {"out_of_region": 21})]

    confirmed = resolve(client, hq, case_id, "confirm", "confirmed")
    assert (confirmed["severity"], confirmed["points"]) == ("high", 20)
    assert confirmed["assessment"]["triggers"][0]["facts"]["alert.scans"] == 21
    with sessions() as s:
        entries = s.scalars(select(CreditPointsEntry).where(CreditPointsEntry.dealer_id == dealer.dealer.id)).all()
        assert [(e.points, e.source_type, e.source_id) for e in entries] == [(-20, "diversion_case", str(case_id))]
        assert credit_points.balance(s, dealer.dealer.id) == 80

    # The credit decision reads the points: a small order within the headroom goes to review.
    placed = order(client, dealer, product.sku)
    decision = placed["decision"]
    assert (placed["status"], decision["rule"]) == ("pending_review", "review-low-credit-points")
    assert decision["facts"]["dealer.credit_points"] == 80
    assert "dealer.credit_points < 90 with dealer.credit_points=80" in decision["reason"]

    # The case is the dealer's to see; the Temporal UI finds its workflow by CaseId.
    assert [c["id"] for c in client.get("/api/v1/cases", headers=dealer.headers).json()] == [case_id]
    attributes = asyncio.run(search_attributes(settings, confirmed["workflow_id"]))
    assert attributes["CaseId"] == [str(case_id)] and attributes["Stage"] == ["confirmed"]
    assert attributes["DealerId"] == [dealer.dealer.code] and attributes["Region"] == [away]


async def search_attributes(settings, workflow_id: str) -> dict:
    client = await connect(settings)
    return dict((await client.get_workflow_handle(workflow_id).describe()).search_attributes)


def test_a_dismissed_case_costs_nothing(client, make_dealer, make_user, product, sessions):
    reg = unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer = make_dealer(region=reg)
    with_guide_price(sessions, product, "100.00")
    batch_no = register(client, admin, product.sku, 3)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 3)
    result = post_scans(client, hq, [scan(codes[0], reg, "60.00", "consumer")])
    case_id = result["cases_opened"][0]
    task = investigation(client, hq, case_id)
    assert (task["payload"]["severity"], task["payload"]["penalty"]) == ("medium", 10)
    dismissed = resolve(client, hq, case_id, "dismiss", "dismissed")
    assert dismissed["points"] == 0 and dismissed["resolution"] == f"dismiss by {hq.user.username}: checked the shop"
    with sessions() as s:
        assert s.scalars(select(CreditPointsEntry).where(CreditPointsEntry.dealer_id == dealer.dealer.id)).all() == []
    assert order(client, dealer, product.sku)["decision"]["rule"] == "approve-within-headroom"
    # The next alert about the same dealer, product and region opens a new case.
    again = post_scans(client, hq, [scan(codes[1], reg, "60.00")])
    assert len(again["cases_opened"]) == 1 and again["cases_opened"][0] != case_id


def test_price_alerts_start_just_past_the_share_under_the_guide_price(client, make_dealer, make_user, product,
                                                                      sessions):
    reg = unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer = make_dealer(region=reg)
    with_guide_price(sessions, product, "100.00")
    batch_no = register(client, admin, product.sku, 4)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 4)
    edge = post_scans(client, hq, [scan(codes[0], reg, "80.00"), scan(codes[1], reg, "100.00"), scan(codes[2], reg)])
    assert (edge["accepted"], edge["alerts"]) == (3, 0)
    under = post_scans(client, hq, [scan(codes[3], reg, "79.99")])
    assert under["alerts"] == 1
    c = case(client, hq, under["cases_opened"][0])
    assert c["triggers"] == {"price": 1} and c["recent_alerts"][0]["price"] == "79.99"
    assert c["recent_alerts"][0]["guide_price"] == "100.00"
    task = investigation(client, hq, c["id"])
    facts = case(client, hq, c["id"])["assessment"]["triggers"][0]["facts"]
    assert facts["alert.price_gap"] == "0.2001" and task["payload"]["severity"] == "medium"


def test_a_batch_sent_again_is_counted_once(client, make_dealer, make_user, product, sessions):
    home, away = unique("reg"), unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer, _ = make_dealer(region=home), make_dealer(region=away)
    batch_no = register(client, admin, product.sku, 3)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 3)
    rows = [scan(c, away) for c in codes] + [scan(codes[0], home)]
    first = post_scans(client, hq, rows)
    assert (first["accepted"], first["duplicates"], first["alerts"]) == (4, 0, 3)
    again = post_scans(client, hq, rows + [rows[0]])
    assert (again["received"], again["accepted"], again["duplicates"], again["alerts"]) == (5, 0, 5, 0)
    assert again["cases_opened"] == [] and case(client, hq, first["cases_opened"][0])["alerts"] == 3


def test_invalid_rows_come_back_by_index_and_the_valid_ones_are_kept(client, make_dealer, make_user, product,
                                                                     sessions):
    reg = unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer = make_dealer(region=reg)
    batch_no = register(client, admin, product.sku, 2)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 2)
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    rows = [scan(codes[0], reg), {**scan(codes[1], reg), "code": ""}, {**scan(codes[1], reg), "kind": "robot"},
            scan(codes[1], "at lantis"), {**scan(codes[1], reg), "price": "-3"},
            {**scan(codes[1], reg), "scanned_at": future}, {**scan(codes[1], reg), "colour": "red"}, "not an object",
            {**scan(codes[1], reg), "scanned_at": "yesterday"},
            scan(codes[1], reg, "1299.50", "inspector")]
    result = post_scans(client, hq, rows)
    assert (result["received"], result["accepted"], result["invalid"]) == (10, 2, 8)
    assert [(p["index"], p["field"]) for p in result["problems"]] == [
        (1, "code"), (2, "kind"), (3, "region"), (4, "price"), (5, "scanned_at"), (6, "colour"), (7, None),
        (8, "scanned_at")]
    assert result["problems"][2]["message"] == ("expected a region code (up to 64 letters, digits, '-', '_' or '.'), "
                                                "got 'at lantis'")
    assert result["problems"][1]["message"] == "'robot' is not one of store, consumer, inspector, sale"
    trace = client.get(f"/api/v1/codes/{codes[1]}/trace", headers=hq.headers).json()
    assert [(s["price"], s["kind"]) for s in trace["scans"]] == [("1299.50", "inspector")]

    # NDJSON and CSV uploads name lines; a binary file is refused as a whole.
    ndjson = "\n".join(['{"scan_id": "%s", "code": "%s", "region": "%s", "scanned_at": "%s", "kind": "store"}'
                        % (uuid.uuid4().hex, codes[0], reg, at()), "{oops", ""]).encode()
    r = client.post("/api/v1/scans", content=ndjson, headers={**hq.headers, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["invalid"]) == (1, 1)
    assert r.json()["problems"][0]["line"] == 2 and r.json()["problems"][0]["message"].startswith("not JSON")
    csv_text = (f"scan_id,code,region,price,scanned_at,kind\n{uuid.uuid4().hex},{codes[0]},{reg},,{at()},consumer\n"
                f"{uuid.uuid4().hex},{codes[0]},{reg},12.345,{at()},consumer\n")
    r = client.post("/api/v1/scans", files={"file": ("scans.csv", csv_text.encode(), "text/csv")}, headers=hq.headers)
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["invalid"]) == (1, 1)
    assert r.json()["problems"] == [{"line": 3, "field": "price",
                                     "message": "expected an amount with at most 2 decimals, got '12.345'"}]
    r = client.post("/api/v1/scans", content=b"PK\x03\x04\x00\x00", headers={**hq.headers, "Content-Type": "text/csv"})
    assert r.status_code == 415
    r = client.post("/api/v1/scans", content=b"code,where\n1,2\n", headers={**hq.headers, "Content-Type": "text/csv"})
    assert r.status_code == 422 and "unknown column 'where'" in r.json()["errors"][0]["message"]
    assert client.post("/api/v1/scans", json=rows, headers=dealer.headers).status_code == 403


def test_an_unknown_code_is_a_possible_counterfeit(client, make_dealer, make_user):
    reg = unique("reg")
    hq = make_user("hq")
    make_dealer(region=reg)
    fake = f"FAKE-{uuid.uuid4().hex[:10]}"
    result = post_scans(client, hq, [scan(fake, reg, "10.00", "consumer")])
    c = case(client, hq, result["cases_opened"][0])
    assert (c["dealer_code"], c["sku"], c["region"], c["triggers"]) == (None, None, reg, {"unknown_code": 1})
    task = investigation(client, hq, c["id"])
    assert task["payload"]["severity"] == "high" and task["payload"]["dealer"] == "unknown dealer"
    trace = client.get(f"/api/v1/codes/{fake}/trace", headers=hq.headers).json()
    assert trace["registered"] is False
    assert trace["scans"][0]["alerts"] == [{"trigger": "unknown_code", "case_id": c["id"]}]


def test_another_dealers_cases_and_traces_are_not_visible(client, make_dealer, make_user, product, sessions):
    home, away = unique("reg"), unique("reg")
    admin, hq = make_user("admin"), make_user("hq")
    dealer, neighbour = make_dealer(region=home), make_dealer(region=away)
    batch_no = register(client, admin, product.sku, 2)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 2)
    case_id = post_scans(client, hq, [scan(codes[0], away)])["cases_opened"][0]

    assert client.get(f"/api/v1/cases/{case_id}", headers=neighbour.headers).status_code == 404
    assert case_id not in [c["id"] for c in client.get("/api/v1/cases", headers=neighbour.headers).json()]
    assert client.get(f"/api/v1/codes/{codes[0]}/trace", headers=neighbour.headers).status_code == 404
    assert client.get(f"/api/v1/codes/{codes[0]}/trace", headers=dealer.headers).status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}", headers=dealer.headers).status_code == 200
    trace = client.get(f"/api/v1/codes/{codes[0]}/trace", headers=hq.headers).json()
    assert trace["binding"]["dealer_code"] == dealer.dealer.code and trace["binding"]["region"] == home
    assert trace["scans"][0]["out_of_region"] and trace["cases"][0]["id"] == case_id
    assert client.get("/api/v1/codes/NOPE-1/trace", headers=hq.headers).status_code == 404


def shipped(sessions, dealer, product, quantity: int, days_ago: float) -> None:
    order_id, when = uuid.uuid4(), datetime.now(timezone.utc) - timedelta(days=days_ago)
    with sessions.begin() as s:
        s.execute(insert(Order).values(id=order_id, dealer_id=dealer.dealer.id, status="shipped",
                                       amount=product.unit_price * quantity, workflow_id=f"order-{order_id}",
                                       created_at=when, updated_at=when, shipped_at=when))
        s.execute(insert(OrderLine).values(order_id=order_id, line_no=1, product_id=product.id, sku=product.sku,
                                           quantity=quantity, unit_price=product.unit_price,
                                           amount=product.unit_price * quantity))


def test_a_stock_up_against_the_dealers_own_history_raises_an_alert(client, make_dealer, make_user, product,
                                                                    sessions):
    reg = unique("reg")
    hq = make_user("hq")
    sudden, steady = make_dealer(region=reg), make_dealer(region=reg)
    for dealer, recent in ((sudden, 31), (steady, 30)):  # 30 units over the 90 days before: 10 a month
        shipped(sessions, dealer, product, 30, days_ago=60)
        shipped(sessions, dealer, product, recent, days_ago=3)
    r = client.post("/api/v1/diversion/sweep", headers=hq.headers)
    assert r.status_code == 200, r.text
    cases = client.get("/api/v1/cases", params={"region": reg}, headers=hq.headers).json()
    assert [(c["dealer_code"], c["triggers"]) for c in cases] == [(sudden.dealer.code, {"stock_up": 1})]
    detail = case(client, hq, cases[0]["id"])
    assert (detail["recent_alerts"][0]["units"], detail["recent_alerts"][0]["baseline"]) == (31, "10.00")
    task = investigation(client, hq, cases[0]["id"])
    assert (task["payload"]["severity"], task["payload"]["penalty"]) == ("low", 5)
    # The same pattern is not raised again within its window.
    client.post("/api/v1/diversion/sweep", headers=hq.headers)
    assert case(client, hq, cases[0]["id"])["alerts"] == 1


def test_a_case_whose_workflow_never_started_is_started_by_the_sweep(client, make_dealer, make_user, sessions):
    reg = unique("reg")
    hq = make_user("hq")
    make_dealer(region=reg)
    with sessions.begin() as s:  # recorded as the API would, but its process died before starting the workflow
        result = scans.ingest(s, [scan(f"LOST-{uuid.uuid4().hex[:8]}", reg)])
    case_id = result.cases[0].case_id
    with sessions.begin() as s:
        s.execute(update(DiversionCase).where(DiversionCase.id == case_id)
                  .values(opened_at=datetime.now(timezone.utc) - timedelta(minutes=5)))
    r = client.post("/api/v1/diversion/sweep", headers=hq.headers)
    assert case_id in r.json()["cases"]
    assert investigation(client, hq, case_id)["payload"]["case_id"] == case_id


def test_codes_are_registered_once_and_bound_at_shipment(client, make_dealer, make_user, product, sessions):
    reg = unique("reg")
    admin, finance = make_user("admin"), make_user("finance")
    dealer, other = make_dealer(region=reg), make_dealer(region=reg)
    batch_no = register(client, admin, product.sku, 4)
    load_codes(sessions, batch_no)
    codes = codes_of(batch_no, 1, 4)
    assert codes[0].startswith(f"{batch_no}-0000001-") and len(set(codes)) == 4
    again = client.post("/api/v1/codes/batches", json={"sku": product.sku, "batch_no": batch_no, "count": 1},
                        headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["errors"][0]["message"] == f"batch {batch_no!r} is already registered"
    printed = [f"QR-{uuid.uuid4().hex[:12]}", codes[2]]
    r = client.post("/api/v1/codes/batches", json={"sku": product.sku, "batch_no": unique("P").upper().replace("_", ""),
                                                  "codes": printed}, headers=admin.headers)
    assert r.status_code == 409
    assert r.json()["errors"] == [{"index": 1, "message": f"{codes[2]!r} is already registered"}]

    placed = order(client, dealer, product.sku)  # one unit
    ship = f"/api/v1/orders/{placed['id']}/ship"
    r = client.post(ship, json={"codes": codes[:2]}, headers=finance.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == (
        f"2 codes of {product.sku} for order {placed['id']}, which has 1 unit(s) of it")
    r = client.post(ship, json={"codes": ["NOPE-1"]}, headers=finance.headers)
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "codes", "message": "unknown code 'NOPE-1'"}]
    r = client.post(ship, json={"codes": codes[:1]}, headers=finance.headers)
    assert r.status_code == 200 and r.json()["status"] == "shipped"
    binding = client.get(f"/api/v1/codes/{codes[0]}/trace", headers=dealer.headers).json()["binding"]
    assert (binding["dealer_code"], binding["region"], binding["order_id"]) == (dealer.dealer.code, reg, placed["id"])
    r = client.post("/api/v1/codes/bind", json={"codes": [codes[0], codes[1]], "dealer": other.dealer.code},
                    headers=admin.headers)
    assert r.status_code == 409 and r.json()["errors"] == [
        {"index": 0, "message": f"{codes[0]} is already bound to dealer {dealer.dealer.code}, order {placed['id']}"}]
    to_other = {"codes": [codes[1]], "dealer": other.dealer.code}
    r = client.post("/api/v1/codes/bind", json=to_other, headers=admin.headers)
    assert r.status_code == 200 and (r.json()["bound"], r.json()["unchanged"]) == (1, 0)
    r = client.post("/api/v1/codes/bind", json=to_other, headers=admin.headers)
    assert r.status_code == 200 and (r.json()["bound"], r.json()["unchanged"]) == (0, 1)


def test_a_clean_quarter_earns_points_back_once(client, make_dealer, make_user, sessions):
    hq = make_user("hq")
    penalised, recent = make_dealer(region=unique("reg")), make_dealer(region=unique("reg"))
    long_ago, lately = datetime.now(timezone.utc) - timedelta(days=200), datetime.now(timezone.utc) - timedelta(days=1)
    with sessions.begin() as s:
        for dealer, when in ((penalised, long_ago), (recent, lately)):
            case_id = s.execute(insert(DiversionCase).values(
                dealer_id=dealer.dealer.id, region=dealer.dealer.region, status="confirmed", first_alert_at=when,
                opened_at=when, started_at=when, severity="high", points=20, resolved_by="hq", resolved_at=when)
                .returning(DiversionCase.id)).scalar_one()
            credit_points.book(s, dealer_id=dealer.dealer.id, points=-20, reason="test", source_type="diversion_case",
                               source_id=str(case_id))
    for _ in range(2):  # the sweep runs every hour: each quarter earns once
        assert client.post("/api/v1/diversion/sweep", headers=hq.headers).status_code == 200
    with sessions() as s:
        assert credit_points.balance(s, penalised.dealer.id) == 85  # 100 - 20 + 5 for the last closed quarter
        assert credit_points.balance(s, recent.dealer.id) == 80  # confirmed since that quarter began: not clean


def test_a_scan_in_a_region_no_dealer_covers_is_kept_and_names_the_source_dealer(client, make_dealer, make_user,
                                                                               product, sessions):
    home, nowhere = unique("reg"), unique("uncovered")  # no dealer is in `nowhere`
    admin, hq = make_user("admin"), make_user("hq")
    dealer = make_dealer(region=home)
    batch_no = register(client, admin, product.sku, 2)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 2)
    result = post_scans(client, hq, [scan(codes[0], nowhere)])
    assert (result["accepted"], result["invalid"], result["alerts"]) == (1, 0, 1)
    c = case(client, hq, result["cases_opened"][0])
    assert (c["dealer_code"], c["region"], c["triggers"]) == (dealer.dealer.code, nowhere, {"out_of_region": 1})
    # The CSV column is `kind`, as the README names it.
    csv_text = f"scan_id,code,region,price,scanned_at,kind\n{uuid.uuid4().hex},{codes[1]},{nowhere},,{at()},inspector\n"
    r = client.post("/api/v1/scans", files={"file": ("scans.csv", csv_text.encode(), "text/csv")}, headers=hq.headers)
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["alerts"]) == (1, 1), r.text
    from dealerflow.core.config import ROOT
    assert "scanned_at, kind`" in (ROOT / "README.md").read_text()
