"""Credit scoring end to end on the real servers: ledger figures → the credit_score rules → ratings and
decreases applied at once (dealer and account manager told), increases over the threshold asked of a
credit manager, over the second threshold of a second person who is not the first; every scorecard
kept with its explanation; a month runs once. And the account page, scoped like every read.

A run scores every dealer of the shared database, so each test takes the month after the last one
run (runs only go forward) and checks only its own dealers."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from dealerflow.models import CreditRun, CreditScore, Dealer, Notification
from dealerflow.shared import accounts
from dealerflow.tiering.runs import months_before

from .policy_support import inbox_task
from .support import wait_until


def next_month(sessions) -> tuple[str, date]:
    """A past month no run has scored yet (a schedule may have scored the current one)."""
    with sessions() as s:
        used = set(s.scalars(select(CreditRun.month)))
    first = date(2024, 1, 1)
    while first.strftime("%Y-%m") in used:
        first = months_before(first, -1)
    return first.strftime("%Y-%m"), first


def history(sessions, dealer_id: int, on: date, *, amount: str, paid_late_days: int, unpaid_from: int = 13) -> None:
    """An invoice a month for 12 months before `on` (terms 30 days); invoice k (k months back) is paid
    `paid_late_days` after its due date, unless k < unpaid_from."""
    rows = []
    for k in range(1, 13):
        day = on - timedelta(days=30 * k)
        rows.append(accounts.entry(dealer_id=dealer_id, kind="delivery", amount=Decimal(amount), value_date=day,
                                   source_type="test", source_id=f"{dealer_id}:inv{k}"))
        paid = day + timedelta(days=30 + paid_late_days)
        if k >= unpaid_from and paid < on:
            rows.append(accounts.entry(dealer_id=dealer_id, kind="payment", amount=Decimal(amount), value_date=paid,
                                       source_type="test", source_id=f"{dealer_id}:pay{k}"))
    with sessions.begin() as s:
        accounts.book(s, rows)


def on_time(sessions, dealer_id: int, on: date, amount: str) -> None:
    rows = []
    for k in range(1, 13):
        day = on - timedelta(days=30 * k)
        rows += [accounts.entry(dealer_id=dealer_id, kind="delivery", amount=Decimal(amount), value_date=day,
                                source_type="test", source_id=f"{dealer_id}:inv{k}"),
                 accounts.entry(dealer_id=dealer_id, kind="payment", amount=Decimal(amount),
                                value_date=day + timedelta(days=20), source_type="test", source_id=f"{dealer_id}:pay{k}")]
    with sessions.begin() as s:
        accounts.book(s, rows)


def score_of(sessions, month: str, dealer_id: int) -> CreditScore:
    with sessions() as s:
        return s.get(CreditScore, (month, dealer_id))


def dealer_row(sessions, dealer_id: int) -> Dealer:
    with sessions() as s:
        return s.get(Dealer, dealer_id)


def complete(client, actor, task, outcome="approve"):
    return client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": outcome}, headers=actor.headers)


def test_a_month_of_credit_scoring_applies_decreases_and_asks_people_for_increases(client, make_dealer, make_user,
                                                                                  sessions):
    month, on = next_month(sessions)
    manager = make_user("account_manager")
    late = make_dealer(credit_limit=Decimal("100000.00"), rating="A", account_manager=manager.user.username)
    good = make_dealer(credit_limit=Decimal("20000.00"), rating="B")
    big = make_dealer(credit_limit=Decimal("0.00"), rating="C")
    # six invoices paid 60 days late, then nothing paid: the oldest unpaid is 150 days overdue
    history(sessions, late.dealer.id, on, amount="10000.00", paid_late_days=60, unpaid_from=7)
    on_time(sessions, good.dealer.id, on, "30000.00")  # 30,000 a month: rating A → 3 months = 90,000
    on_time(sessions, big.dealer.id, on, "100000.00")  # → 300,000, 300,000 up: two people
    first, second = make_user("credit_manager"), make_user("credit_manager")

    r = client.post("/api/v1/credit/runs", json={"month": month}, headers=first.headers)
    assert r.status_code == 202, r.text
    assert r.json() == {"month": month, "workflow_id": f"credit-{month}", "action": "started"}
    run = wait_until(lambda: (lambda b: b if b.get("stage") == "closed" else None)(
        client.get(f"/api/v1/credit/runs/{month}", headers=first.headers).json()), 60)
    assert run["totals"]["dealers"] >= 3 and run["as_of"] == on.isoformat()

    # the late payer: rating D by the override, limit down to 0 at once, dealer and manager told
    s = score_of(sessions, month, late.dealer.id)
    assert (s.new_rating, s.override, s.status, s.proposed_limit) == ("D", "long-overdue", "applied", Decimal("0.00"))
    assert s.figures["overdue_days"] == 150 and s.figures["days_late"] is not None
    assert s.explanation["ruleset"] == "credit_score" and s.explanation["version"] >= 1
    assert "override-long-overdue" in s.explanation["matched"] and "limit down 100,000.00" in s.explanation["reason"]
    d = dealer_row(sessions, late.dealer.id)
    assert (d.rating, d.credit_limit, d.overdue_days) == ("D", Decimal("0.00"), 150)
    with sessions() as db:
        told = db.scalars(select(Notification).where(Notification.kind == "credit")).all()
    assert any(n.recipient_dealer_id == late.dealer.id and "0.00" in n.title for n in told)
    assert any(n.recipient_user_id == manager.user.id and late.dealer.code in n.body for n in told)

    # the good payer: rating A at once, the limit waits for a credit manager
    s = score_of(sessions, month, good.dealer.id)
    assert (s.new_rating, s.status, s.approvals, s.proposed_limit) == ("A", "awaiting_approval", 1, Decimal("90000.00"))
    assert dealer_row(sessions, good.dealer.id).credit_limit == Decimal("20000.00")
    task = inbox_task(client, first, lambda t: t["subject_id"] == f"{month}:{good.dealer.code}")
    assert task["kind"] == "credit_increase" and task["assignee_role"] == "credit_manager"
    assert complete(client, first, task).status_code == 200
    wait_until(lambda: dealer_row(sessions, good.dealer.id).credit_limit == Decimal("90000.00"))
    assert score_of(sessions, month, good.dealer.id).status == "applied"

    # the big one: two people, never the same one twice
    s = score_of(sessions, month, big.dealer.id)
    assert (s.status, s.approvals, s.proposed_limit) == ("awaiting_approval", 2, Decimal("300000.00"))
    one = inbox_task(client, first, lambda t: t["subject_id"] == f"{month}:{big.dealer.code}")
    assert complete(client, first, one).status_code == 200
    two = inbox_task(client, second, lambda t: t["subject_id"] == f"{month}:{big.dealer.code}" and t["id"] != one["id"])
    assert two["payload"]["step"] == 2 and two["payload"]["not_by"] == [first.user.username]
    assert dealer_row(sessions, big.dealer.id).credit_limit == Decimal("0.00")  # one approval is not enough
    refused = complete(client, first, two)
    assert refused.status_code == 403, refused.text
    assert complete(client, second, two).status_code == 200
    wait_until(lambda: dealer_row(sessions, big.dealer.id).credit_limit == Decimal("300000.00"))
    s = score_of(sessions, month, big.dealer.id)
    assert s.status == "applied" and [a["actor"] for a in s.approvers] == [first.user.username, second.user.username]

    # a month runs once
    again = client.post("/api/v1/credit/runs", json={"month": month}, headers=first.headers)
    assert again.status_code == 202 and again.json()["action"] == "existing"

    # the approver's page names the dealer, the limits and who may not approve again
    from .test_tiering import login
    login(client, second)
    page = client.get(f"/console/tasks/{two['id']}")
    assert page.status_code == 200 and big.dealer.code in page.text and "300,000.00" in page.text
    assert first.user.username in page.text
    assert month in client.get(f"/console/credit?month={month}").text


def test_a_rejected_increase_keeps_the_limit(client, make_dealer, make_user, sessions):
    month, on = next_month(sessions)
    good = make_dealer(credit_limit=Decimal("10000.00"))
    on_time(sessions, good.dealer.id, on, "30000.00")
    cm = make_user("credit_manager")
    assert client.post("/api/v1/credit/runs", json={"month": month}, headers=cm.headers).status_code == 202
    task = inbox_task(client, cm, lambda t: t["subject_id"] == f"{month}:{good.dealer.code}", 60)
    assert complete(client, cm, task, "reject").status_code == 200
    wait_until(lambda: score_of(sessions, month, good.dealer.id).status == "rejected")
    assert dealer_row(sessions, good.dealer.id).credit_limit == Decimal("10000.00")


def test_the_monthly_schedule_starts_a_month_once(client, make_user, sessions, settings):
    import asyncio

    from dealerflow.contracts import CreditScoringInput
    from dealerflow.core.temporal import connect
    from workflows import CreditScheduleWorkflow

    month, _ = next_month(sessions)

    async def fire_twice() -> list[str]:
        temporal = await connect(settings)
        spec = (await temporal.get_schedule_handle("credit-monthly").describe()).schedule.spec
        assert [(c.day_of_month[0].start, c.hour[0].start) for c in spec.calendars] == [(1, 0)]  # 08:00 China time
        return [await temporal.execute_workflow(
            CreditScheduleWorkflow.run, CreditScoringInput(month), id=f"credit-schedule-{uuid.uuid4()}",
            task_queue=settings.task_queue) for _ in range(2)]

    assert asyncio.run(fire_twice()) == [month, month]
    cm = make_user("credit_manager")
    run = wait_until(lambda: (lambda b: b if b.get("stage") == "closed" else None)(
        client.get(f"/api/v1/credit/runs/{month}", headers=cm.headers).json()), 60)
    assert run["started_by"] == "schedule"
    assert [r["month"] for r in client.get("/api/v1/credit/runs", headers=cm.headers).json()][0] == month


def test_runs_are_asked_for_by_credit_managers_and_go_forward(client, make_user, sessions):
    dealer_hq = make_user("hq")
    assert client.post("/api/v1/credit/runs", json={}, headers=dealer_hq.headers).status_code == 403
    cm = make_user("credit_manager")
    r = client.post("/api/v1/credit/runs", json={"month": "2023-13"}, headers=cm.headers)
    assert r.status_code == 422 and "is not a month" in r.json()["detail"]
    r = client.post("/api/v1/credit/runs", json={"month": "2999-01"}, headers=cm.headers)
    assert r.status_code == 422 and "has not started yet" in r.json()["detail"]


# --- the account page ------------------------------------------------------------------------------

def test_a_dealer_reads_its_account_and_a_level_one_dealer_its_level_two_dealers(client, make_dealer, make_user,
                                                                                sessions, product):
    parent = make_dealer(credit_limit=Decimal("5000.00"), payment_terms_days=30)
    child = make_dealer(level=2, parent_id=parent.dealer.id)
    other = make_dealer()
    today = accounts.business_date(__import__("datetime").datetime.now(__import__("datetime").timezone.utc))
    with sessions.begin() as s:
        accounts.book(s, [accounts.entry(dealer_id=parent.dealer.id, kind="delivery", amount=Decimal("1200.00"),
                                         value_date=today - timedelta(days=45), source_type="test", source_id=f"{uuid.uuid4()}"),
                          accounts.entry(dealer_id=parent.dealer.id, kind="payment", amount=Decimal("200.00"),
                                         value_date=today - timedelta(days=3), source_type="test", source_id=f"{uuid.uuid4()}")])
    placed = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 3}]}, headers=parent.headers)
    assert placed.json()["status"] == "approved"

    own = client.get("/api/v1/account", headers=parent.headers)
    assert own.status_code == 200, own.text
    a = own.json()
    assert (a["dealer"], a["balance"], a["overdue_days"], a["held"], a["credit_limit"]) == (
        parent.dealer.code, "1000.00", 15, "300.00", "5000.00")
    assert a["headroom"] == "3700.00" and a["rating"] == "A" and a["credit_points"] == 100
    assert [e["kind"] for e in a["entries"]] == ["payment", "delivery"] and a["entries_total"] == 2
    assert [o["status"] for o in a["open_orders"]] == ["approved"]
    page2 = client.get("/api/v1/account?limit=1&offset=1", headers=parent.headers).json()
    assert [e["kind"] for e in page2["entries"]] == ["delivery"] and page2["entries_total"] == 2

    assert client.get(f"/api/v1/dealers/{child.dealer.code}/account", headers=parent.headers).status_code == 200
    assert client.get(f"/api/v1/dealers/{parent.dealer.code}/account", headers=child.headers).status_code == 404
    assert client.get(f"/api/v1/dealers/{other.dealer.code}/account", headers=parent.headers).status_code == 404
    assert client.get(f"/api/v1/dealers/{parent.dealer.code}/account",
                      headers=make_user("credit_manager").headers).json()["balance"] == "1000.00"
    assert client.get("/api/v1/account", headers=make_user("hq").headers).status_code == 403


def test_the_console_shows_the_account_and_the_runs_in_both_languages(client, make_dealer, make_user, sessions):
    from .test_tiering import login
    parent = make_dealer(outstanding=Decimal("250.00"))
    child = make_dealer(level=2, parent_id=parent.dealer.id, name="Village Store")
    login(client, parent)
    page = client.get("/console/account")
    assert page.status_code == 200 and "250.00" in page.text and child.dealer.code in page.text
    assert "Village Store" in client.get(f"/console/account?dealer={child.dealer.code}").text
    zh = client.get("/console/account", headers={"Accept-Language": "zh-CN"})
    assert "可用额度" in zh.text and "账户明细" in zh.text
    cm = make_user("credit_manager")
    login(client, cm)
    runs = client.get("/console/credit")
    assert runs.status_code == 200 and "Score this month now" in runs.text
    assert client.get(f"/console/account?dealer={parent.dealer.code}").status_code == 200
    assert client.get("/console/account?dealer=NOSUCH").status_code == 404
