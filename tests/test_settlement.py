"""Rebate settlement end to end on the real servers: freeze → statements → confirm, dispute or
silence → finance approval (two approvers over the threshold) → posting exactly once → closed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from dealerflow.shared import accounts
from dealerflow.models import AccountEntry, PointsEntry, SettlementRun, Statement

from .settlement_support import (approval_task, balances, complete, delivered, deploy_program, program_yaml, region,
                                 stage, start, statement_of)
from .policy_support import unique
from .support import wait_until


def rebate_entries(sessions, dealer) -> list[Decimal]:
    with sessions() as s:
        return list(s.scalars(select(AccountEntry.amount).where(
            AccountEntry.dealer_id == dealer.dealer.id, AccountEntry.kind == "rebate").order_by(AccountEntry.id)))


def test_a_quarter_settles_with_extras_silence_confirms_and_posts_once(client, make_dealer, make_user, product,
                                                                        sessions):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    joined = datetime(2022, 5, 1, 9, tzinfo=accounts.CHINA)  # the 3rd anniversary falls in 2025-Q2
    big, exact, small = make_dealer(region=reg, cooperation_since=joined.date()), make_dealer(region=reg), make_dealer(region=reg)
    outsider = make_dealer(region=region())
    program = deploy_program(client, admin, program_yaml(
        unique("vol"), reg, extras="{growth: {over: 50%, rate: 1%}, anniversary: {years: [3], rate: 3%}}"))
    delivered(sessions, big, product, 60, "2025-05-10")  # 6000.00: 2% + 3% anniversary = 300.00
    delivered(sessions, exact, product, 10, "2025-06-30")  # 1000.00 exactly: 1% ...
    delivered(sessions, exact, product, 5, "2024-05-10")  # ... + 1% for 100% growth = 20.00
    delivered(sessions, small, product, 9, "2025-04-01")  # 900.00: below the first paying bracket
    delivered(sessions, small, product, 5, "2025-03-31")  # before the quarter: the opening balance
    delivered(sessions, outsider, product, 90, "2025-05-10")

    started = start(client, finance, program, "2025-Q2")
    assert started["action"] == "started" and started["run_id"] == f"{program}:2025-Q2"
    run_id = started["run_id"]
    mine = statement_of(client, big, run_id)
    assert (mine["rebate"], mine["status"], mine["revision"]) == ("300.00", "issued", 1)
    x = mine["explanation"]
    assert x["bracket"]["index"] == 3 and [e["name"] for e in x["extras"]] == ["anniversary"]
    assert x["ruleset"] == program and x["version"] >= 1 and x["file"] == f"rules/rebates/{program}.yaml"
    assert statement_of(client, exact, run_id)["rebate"] == "20.00"
    low = statement_of(client, small, run_id)
    assert (low["rebate"], low["opening"], low["deliveries"], low["closing"]) == ("0.00", "500.00", "900.00", "1400.00")
    assert all(s["run_id"] != run_id for s in client.get("/api/v1/statements", headers=outsider.headers).json())

    r = client.post(f"/api/v1/statements/{mine['id']}/confirm", headers=big.headers)
    assert r.status_code == 200 and r.json()["status"] == "confirmed" and r.json()["confirmed_by"] == big.user.username
    # The others stay silent: at the deadline silence confirms, and finance is asked to approve.
    task = approval_task(client, finance, run_id)
    assert task["payload"]["total"] == "320.00" and task["payload"]["statements"] == 3
    assert complete(client, finance, task["id"], "approve").status_code == 200
    closed = stage(client, finance, run_id, "closed")
    assert closed["totals"]["rebate"] == "320.00" and closed["totals"]["credited"] == "320.00"
    assert closed["totals"]["auto_confirmed"] == 2 and closed["statements"] == {"confirmed": 3}
    assert rebate_entries(sessions, big) == [Decimal("-300.00")]
    assert rebate_entries(sessions, exact) == [Decimal("-20.00")]
    assert rebate_entries(sessions, small) == []
    every = client.get("/api/v1/statements", params={"run": run_id}, headers=finance.headers).json()
    assert len(every) == 3 and all(balances(s) and s["posted_at"] for s in every)
    assert statement_of(client, exact, run_id)["confirmed_by"] == "auto"


def test_a_dispute_becomes_a_finance_task_and_a_revised_statement(client, make_dealer, make_user, product, sessions):
    reg, admin, finance, other_finance = region(), make_user("admin"), make_user("finance"), make_user("finance")
    dealer, neighbour = make_dealer(region=reg), make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("dsp"), reg, confirm="30s"))
    delivered(sessions, dealer, product, 40, "2025-05-10")  # 4000.00 → 1% = 40.00
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    mine, theirs = statement_of(client, dealer, run_id), statement_of(client, neighbour, run_id)
    assert mine["rebate"] == "40.00"

    assert client.post(f"/api/v1/statements/{theirs['id']}/confirm", headers=dealer.headers).status_code == 404
    assert client.get(f"/api/v1/statements/{theirs['id']}", headers=dealer.headers).status_code == 404
    assert client.post(f"/api/v1/statements/{mine['id']}/dispute", json={}, headers=dealer.headers).status_code == 422
    assert client.post(f"/api/v1/statements/{mine['id']}/dispute", json={"reason": "  "},
                       headers=dealer.headers).status_code == 422
    r = client.post(f"/api/v1/statements/{mine['id']}/dispute",
                    json={"reason": "the delivery of 2025-06-20 (20 doors) is missing"}, headers=dealer.headers)
    assert r.status_code == 200 and r.json()["status"] == "disputed"
    assert client.post(f"/api/v1/statements/{mine['id']}/confirm", headers=dealer.headers).status_code == 409

    task = wait_until(lambda: next((t for t in client.get("/api/v1/tasks", headers=finance.headers).json()
                                    if t["kind"] == "statement_dispute" and t["subject_id"] == mine["id"]), None))
    assert task["payload"]["reason"] == "the delivery of 2025-06-20 (20 doors) is missing"
    delivered(sessions, dealer, product, 20, "2025-06-20")  # finance records the missing delivery
    assert complete(client, other_finance, task["id"], "revise", "missing delivery recorded").status_code == 200
    revised = wait_until(lambda: (s := statement_of(client, dealer, run_id))["revision"] == 2 and s)
    assert (revised["rebate"], revised["deliveries"], revised["status"]) == ("120.00", "6000.00", "issued")
    assert client.get(f"/api/v1/statements/{mine['id']}", headers=dealer.headers).json()["status"] == "superseded"
    assert client.post(f"/api/v1/statements/{mine['id']}/confirm", headers=dealer.headers).status_code == 409
    for who, s in ((dealer, revised), (neighbour, theirs)):
        assert client.post(f"/api/v1/statements/{s['id']}/confirm", headers=who.headers).status_code == 200
    approve = approval_task(client, finance, run_id)
    assert complete(client, finance, approve["id"], "approve").status_code == 200
    stage(client, finance, run_id, "closed")
    assert rebate_entries(sessions, dealer) == [Decimal("-120.00")]

    csv = client.get(f"/api/v1/statements/{revised['id']}", params={"format": "csv"}, headers=dealer.headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "Rebate of this settlement,120.00" in csv.text and "Closing balance," in csv.text
    page = client.get(f"/api/v1/statements/{revised['id']}", params={"format": "html"}, headers=dealer.headers)
    assert page.status_code == 200 and "120.00" in page.text and "Closing balance" in page.text


def test_confirming_after_the_window_is_refused(client, make_dealer, make_user, product, sessions):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealer = make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(unique("late"), reg, confirm="1s"))
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    mine = statement_of(client, dealer, run_id)
    wait_until(lambda: datetime.now(timezone.utc) > datetime.fromisoformat(mine["confirm_by"]) + timedelta(seconds=0.2))
    r = client.post(f"/api/v1/statements/{mine['id']}/confirm", headers=dealer.headers)
    assert r.status_code == 409, r.text
    r = client.post(f"/api/v1/statements/{mine['id']}/dispute", json={"reason": "late"}, headers=dealer.headers)
    assert r.status_code == 409


def test_over_the_threshold_a_second_person_approves_and_a_repeated_start_runs_once(
        client, make_dealer, make_user, product, sessions):
    reg, admin = region(), make_user("admin")
    first, second, dealer = make_user("finance"), make_user("finance"), make_dealer(region=reg)
    program = deploy_program(client, admin, program_yaml(
        unique("big"), reg, second='{over: "100.00", role: finance, sla: 1h}'))
    delivered(sessions, dealer, product, 60, "2025-05-10")  # 120.00 > 100.00
    a = start(client, first, program, "2025-Q2")
    b = start(client, second, program, "2025-Q2")
    assert a["run_id"] == b["run_id"] and b["action"] in ("existing", "started")
    mine = statement_of(client, dealer, a["run_id"])
    assert client.post(f"/api/v1/statements/{mine['id']}/confirm", headers=dealer.headers).status_code == 200
    assert complete(client, first, approval_task(client, first, a["run_id"])["id"], "approve").status_code == 200
    step2 = approval_task(client, second, a["run_id"], step=2)
    assert step2["payload"]["not_by"] == [first.user.username]
    refused = complete(client, first, step2["id"], "approve")
    assert refused.status_code == 403 and "second approver" in refused.text
    assert complete(client, second, step2["id"], "approve").status_code == 200
    closed = stage(client, first, a["run_id"], "closed")
    assert [x["actor"] for x in closed["approvals"]] == [first.user.username, second.user.username]
    assert start(client, first, program, "2025-Q2")["action"] == "existing"  # a closed run is not run again
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SettlementRun).where(SettlementRun.program == program)) == 1
        assert s.scalar(select(func.count()).select_from(Statement).where(Statement.run_id == a["run_id"])) == 1
    assert rebate_entries(sessions, dealer) == [Decimal("-120.00")]


def test_interim_runs_pay_on_account_and_the_final_run_pays_the_rest_once(
        client, make_dealer, make_user, product, sessions):
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    dealer = make_dealer(region=reg)
    with sessions.begin() as s:  # points earned from policy tasks convert at the program's rate
        s.add(PointsEntry(dealer_id=dealer.dealer.id, points=50, reason="test", source_type="test",
                          source_id=unique("pts")))
    program = deploy_program(client, admin, program_yaml(unique("int"), reg, interim="month",
                                                         extras='{points: {per_point: "0.10"}}'))
    delivered(sessions, dealer, product, 30, "2025-04-15")  # April: 3000.00 → 1% = 30.00
    delivered(sessions, dealer, product, 30, "2025-05-15")  # to May: 6000.00 → 2% = 120.00, less 30.00 paid
    delivered(sessions, dealer, product, 10, "2025-06-15")  # the quarter: 7000.00 → 140.00, less 120.00 paid

    def settle(upto, rebate, points):
        run_id = start(client, finance, program, "2025-Q2", upto)["run_id"]
        mine = statement_of(client, dealer, run_id)
        assert (mine["rebate"], mine["points_amount"]) == (rebate, points), mine["explanation"]
        assert client.post(f"/api/v1/statements/{mine['id']}/confirm", headers=dealer.headers).status_code == 200
        assert complete(client, finance, approval_task(client, finance, run_id)["id"], "approve").status_code == 200
        stage(client, finance, run_id, "closed")
        return mine

    april = settle("2025-04", "30.00", "5.00")
    assert april["explanation"]["bracket"]["index"] == 2 and (april["span_from"], april["span_to"]) == ("2025-04-01", "2025-04-30")
    may = settle("2025-05", "90.00", "0.00")
    assert Decimal(may["opening"]) == Decimal(april["closing"])  # statements chain month to month
    final = settle(None, "20.00", "0.00")
    assert final["final"] and final["explanation"]["figures"]["paid_before"] == "120.00"
    assert sum(rebate_entries(sessions, dealer)) == Decimal("-140.00")  # 2% of 7000.00, paid once in all
    r = client.post("/api/v1/settlements", json={"program": program, "period": "2025-Q2", "upto": "2025-04"},
                    headers=finance.headers)
    assert r.status_code == 422 and "final run" in r.text


def test_bad_requests_name_what_is_wrong(client, make_user, make_dealer):
    admin, finance, dealer = make_user("admin"), make_user("finance"), make_dealer()
    program = deploy_program(client, admin, program_yaml(unique("bad"), region()))
    for body, words in (({"program": program, "period": "2025-07"}, "settles by quarter"),
                        ({"program": program, "period": "2099-Q1"}, "has not ended"),
                        ({"program": program, "period": "Q3"}, "is not a period"),
                        ({"program": "no_such_program", "period": "2025-Q2"}, "no rebate program"),
                        ({"program": program, "period": "2025-Q2", "upto": "2025-04"}, "no interim runs")):
        r = client.post("/api/v1/settlements", json=body, headers=finance.headers)
        assert r.status_code == 422 and words in r.text, (body, r.text)
    assert client.post("/api/v1/settlements", json={"program": program, "period": "2025-Q2"},
                       headers=dealer.headers).status_code == 403
    broken = program_yaml(unique("brk"), "east").replace("{from: 1000, rate: 1%}", "{from: 1000, rate: 1%, amount: 5}")
    r = client.post("/api/v1/rules/deploy", params={"filename": "rules/rebates/broken.yaml"}, content=broken.encode(),
                    headers={**admin.headers, "Content-Type": "application/yaml"})
    assert r.status_code == 422 and r.json()["errors"][0]["text"].startswith("rules/rebates/broken.yaml:")


def test_a_program_only_scheduled_is_not_listed_and_breaks_no_page(client, make_dealer, make_user, sessions):
    """A program approved for a future date is not in force yet: the dealer's progress, the settlement
    page and every list of programs go on without it, and its schedule is kept for when it starts."""
    from dealerflow.rebates import programs
    from dealerflow.shared import rulebook
    from .test_console_admin import as_user

    name = unique("later")
    with sessions.begin() as s:
        rulebook.deploy(s, filename=f"rules/rebates/{name}.yaml", text=program_yaml(name, region()), actor="tests",
                        effective_from=datetime.now(timezone.utc) + timedelta(days=365))
    with sessions() as s:
        assert name not in [spec.id for _, spec in programs.programs(s)]
        assert name in programs.deployed_names(s)
    dealer, finance = make_dealer(), make_user("finance")
    r = client.get("/api/v1/rebates/progress", headers=dealer.headers)
    assert r.status_code == 200 and name not in [p["program"] for p in r.json()]
    as_user(client, finance)
    assert client.get("/console/settlements").status_code == 200
