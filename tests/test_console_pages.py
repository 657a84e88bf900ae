"""Every page of the console: lists paged with their totals and filters, a message after each action
shown once, a confirmation before what moves money or penalises a dealer (checked by the server),
the subjects of bulk tasks listed, the notifications with their unread count, forms that keep their
input after an error, and rule texts in the reader's language."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from api.flash import seal, unseal
from dealerflow.models import HumanTask, Notification, Order, SettlementRun, Statement

from .policy_support import unique
from .support import wait_until
from .test_console import login


def add_orders(sessions, dealer, n: int, *, status: str = "approved", at: datetime | None = None) -> list[str]:
    ids = []
    with sessions.begin() as s:
        for _ in range(n):
            oid = uuid.uuid4()
            s.add(Order(id=oid, dealer_id=dealer.dealer.id, status=status, amount=Decimal("10.00"),
                        workflow_id=f"order-{oid}", **({"created_at": at} if at else {})))
            ids.append(str(oid))
    return ids


def add_task(sessions, kind: str, role: str, payload: dict, outcomes=("approve", "reject"), **fields) -> str:
    tid = uuid.uuid4()
    with sessions.begin() as s:
        s.add(HumanTask(id=tid, kind=kind, title=fields.pop("title", f"{kind} {tid.hex[:6]}"),
                        subject_type=fields.pop("subject_type", "test"), subject_id=fields.pop("subject_id", "x"),
                        workflow_id=f"task-{tid}", assignee_role=role, outcomes=list(outcomes), payload=payload,
                        due_at=datetime.now(timezone.utc) + timedelta(days=1), **fields))
    return str(tid)


def pager_text(html: str) -> str:
    m = re.search(r'<nav class="pager"[^>]*>\s*<span class="muted">([^<]*)</span>', html)
    assert m, "no pager on the page"
    return m.group(1)


# --- paging, totals and filters ----------------------------------------------------------------

def test_the_orders_list_pages_with_its_total_and_filters(client, sessions, make_dealer, make_user):
    dealer, hq = make_dealer(), make_user("hq")
    ids = add_orders(sessions, dealer, 52)
    add_orders(sessions, dealer, 3, status="rejected")
    old = add_orders(sessions, dealer, 2, at=datetime(2020, 1, 15, 4, 0, tzinfo=timezone.utc))
    login(client, dealer.user.username)
    first = client.get("/console/orders")
    assert pager_text(first.text) == "page 1 of 2 · 57 in all"
    assert 'href="?page=2"' in first.text and first.text.count('<a href="/console/orders/') == 50
    second = client.get("/console/orders", params={"page": 2})
    assert pager_text(second.text) == "page 2 of 2 · 57 in all" and second.text.count('<a href="/console/orders/') == 7
    assert pager_text(client.get("/console/orders", params={"page": 99}).text) == "page 2 of 2 · 57 in all"
    rejected = client.get("/console/orders", params={"status": "rejected"})
    assert pager_text(rejected.text) == "page 1 of 1 · 3 in all"
    dated = client.get("/console/orders", params={"since": "2020-01-01", "until": "2020-01-31"})
    assert pager_text(dated.text) == "page 1 of 1 · 2 in all" and all(i[:8] in dated.text for i in old)
    assert 'value="2020-01-01"' in dated.text  # the filter shows what was asked
    # Staff look an order up by the start of its number, or a dealer by its code (with the filters kept
    # in the pager's links).
    client.cookies.clear()
    login(client, hq.user.username)
    found = client.get("/console/orders", params={"q": ids[0][:8]})
    assert pager_text(found.text) == "page 1 of 1 · 1 in all" and ids[0][:8] in found.text
    by_code = client.get("/console/orders", params={"q": dealer.dealer.code.lower()})
    assert pager_text(by_code.text) == "page 1 of 2 · 57 in all"
    assert f'href="?q={dealer.dealer.code.lower()}&amp;page=2"' in by_code.text
    both = client.get("/console/orders", params={"q": dealer.dealer.code, "status": "rejected"})
    assert pager_text(both.text) == "page 1 of 1 · 3 in all"
    assert "57 in all" not in client.get("/console/orders", params={"q": "zz-no-such"}).text


def test_the_inbox_filters_by_kind_and_role_and_pages(client, sessions, make_user):
    finance = make_user("finance")
    kind = f"test_{uuid.uuid4().hex[:8]}"
    for _ in range(53):
        add_task(sessions, kind, "finance", {})
    add_task(sessions, kind, "hq", {}, escalated_to_role="finance")
    login(client, finance.user.username)
    page = client.get("/console/tasks", params={"kind": kind})
    assert pager_text(page.text) == "page 1 of 2 · 54 in all"
    assert f'href="?status=open&amp;kind={kind}&amp;page=2"' in page.text
    assert f'<option value="{kind}" selected>' in page.text
    assert pager_text(client.get("/console/tasks", params={"kind": kind, "role": "hq"}).text) == \
        "page 1 of 1 · 1 in all"
    assert pager_text(client.get("/console/tasks", params={"kind": kind, "status": "completed"}).text) == \
        "page 1 of 1 · 0 in all"


def test_statements_settlements_and_cases_show_their_totals(client, sessions, make_dealer, make_user):
    dealer, finance = make_dealer(), make_user("finance")
    run_id = statement_run(sessions, dealer, n=1)[0]
    login(client, dealer.user.username)
    assert pager_text(client.get("/console/statements").text) == "page 1 of 1 · 1 in all"
    client.cookies.clear()
    login(client, finance.user.username)
    assert pager_text(client.get("/console/statements", params={"run": run_id}).text) == "page 1 of 1 · 1 in all"
    assert re.match(r"page 1 of \d+ · \d+ in all", pager_text(client.get("/console/settlements").text))
    assert pager_text(client.get("/console/cases", params={"region": unique("nowhere")}).text) == \
        "page 1 of 1 · 0 in all"


# --- flash messages ----------------------------------------------------------------------------

def test_a_message_after_an_action_is_shown_once(client, sessions, make_dealer):
    dealer = make_dealer()
    notify(sessions, dealer, 2)
    login(client, dealer.user.username)
    r = client.post("/console/notifications/read", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/notifications"
    shown = client.get(r.headers["location"])
    assert '<p class="flash ok" role="status">2 notification(s) marked read.</p>' in shown.text
    assert 'class="flash' not in client.get("/console/notifications").text  # once


def test_a_flash_cookie_is_signed_and_short_lived():
    value = seal("Statement confirmed.", secret="s3cret", now=1000)
    assert unseal(value, "s3cret", now=1010) == {"message": "Statement confirmed.", "kind": "ok"}
    assert unseal(value, "other", now=1010) is None  # forged
    assert unseal(value, "s3cret", now=1000 + 3600) is None  # stale
    payload, signature = value.split(".")
    assert unseal(payload[:-2] + "xx." + signature, "s3cret", now=1010) is None  # altered


# --- confirmation before money or a penalty ----------------------------------------------------

def statement_run(sessions, dealer, n: int = 1) -> list[str]:
    run_id = unique("run")
    with sessions.begin() as s:
        s.add(SettlementRun(id=run_id, program="quarterly_volume", period="2026-Q1", upto="2026-03", final=True,
                            ruleset_version=1, measure_from=date(2026, 1, 1), span_from=date(2026, 1, 1),
                            span_to=date(2026, 3, 31), workflow_id=f"wf-{run_id}", stage="awaiting_confirmation",
                            started_by="finance"))
        s.flush()
        ids = []
        for _ in range(n):
            sid = uuid.uuid4()
            s.add(Statement(id=sid, run_id=run_id, dealer_id=dealer.dealer.id, explanation={"reason": "x"},
                            confirm_by=datetime.now(timezone.utc) + timedelta(days=7),
                            **{k: Decimal("0") for k in ("opening", "returns", "payments", "rebates_posted",
                                                        "points_amount")},
                            deliveries=Decimal("1040.00"), rebate=Decimal("40.00"), closing=Decimal("1000.00")))
            ids.append(str(sid))
    return [run_id, *ids]


def test_confirming_a_statement_needs_the_confirmation(client, sessions, make_dealer):
    dealer = make_dealer()
    _, statement_id = statement_run(sessions, dealer)
    login(client, dealer.user.username)
    page = client.get(f"/console/statements/{statement_id}")
    assert 'type="checkbox" name="confirmed" value="yes" required' in page.text and "¥40.00" in page.text
    r = client.post(f"/console/statements/{statement_id}/confirm")  # the browser's `required` bypassed
    assert r.status_code == 422 and "Tick the confirmation first" in r.text
    assert 'class="check confirm-check invalid"' in r.text
    with sessions() as s:
        assert s.get(Statement, uuid.UUID(statement_id)).status == "issued"


def test_approving_a_settlement_and_confirming_a_diversion_need_the_confirmation(client, sessions, make_user):
    finance, hq = make_user("finance"), make_user("hq")
    approval = add_task(sessions, "settlement_approval", "finance",
                        {"run_id": "run-x", "total": "12345.00", "statements": 3, "step": 1})
    login(client, finance.user.username)
    page = client.get(f"/console/tasks/{approval}")
    assert "Approving pays rebates of ¥12,345.00 in all (3 statements)" in page.text
    r = client.post(f"/console/tasks/{approval}", data={"outcome": "approve", "comment": "fine by me"})
    assert r.status_code == 422 and "Tick the confirmation first" in r.text
    assert ">fine by me</textarea>" in r.text  # the comment is kept
    client.cookies.clear()
    investigation = add_task(sessions, "diversion_investigation", "hq",
                             {"case_id": 999999998, "dealer": "D1", "product": "SKU-1", "region": "west",
                              "severity": "high", "penalty": 20, "alerts": 4, "recent": []},
                             outcomes=("confirm", "dismiss"))
    login(client, hq.user.username)
    r = client.post(f"/console/tasks/{investigation}", data={"outcome": "confirm"})
    assert r.status_code == 422 and "Tick the confirmation first" in r.text
    with sessions() as s:
        assert {s.get(HumanTask, uuid.UUID(t)).status for t in (approval, investigation)} == {"open"}


# --- bulk tasks list their subjects ------------------------------------------------------------

def test_a_downgrade_task_lists_its_dealers_and_says_when_the_list_is_cut(client, sessions, make_user):
    hq = make_user("hq")
    dealers = [{"code": f"D{i}X", "name": f"Dealer {i}", "region": "north", "from": "core", "to": "key",
                "score": "71.50", "reason": "score 71.50 below 80"} for i in range(3)]
    task = add_task(sessions, "tier_downgrade", "hq", {"month": "2026-05", "count": 120, "dealers": dealers},
                    subject_type="tiering", subject_id="2026-05")
    login(client, hq.user.username)
    page = client.get(f"/console/tasks/{task}")
    for d in dealers:
        assert f'<a href="/console/tier?dealer={d["code"]}">{d["code"]}</a>' in page.text and d["name"] in page.text
    assert "core → key" in page.text and "71.50" in page.text and "score 71.50 below 80" in page.text
    assert "Only the first 3 of 120 dealers are listed here" in page.text
    assert 'data-label="Reason"' in page.text
    chinese = client.get(f"/console/tasks/{task}", headers={"Accept-Language": "zh-CN"})
    assert "此处仅列出 120 家经销商中的前 3 家" in chinese.text and "2026-05 降级名单" in chinese.text


def test_activation_and_investigation_tasks_name_their_subjects(client, sessions, make_user):
    hq = make_user("hq")
    activation = add_task(sessions, "dealer_activation", "hq", {
        "month": "2026-05", "account_manager": None, "silent_dealers": 1, "dealers": [
            {"code": "S1X", "name": "Quiet Doors", "region": "south", "silent_since": "2025-10-01",
             "actions": ["Call the dealer", "Send its policies"]}]}, outcomes=("contacted", "unreachable"))
    investigation = add_task(sessions, "diversion_investigation", "hq", {
        "case_id": 424242, "dealer": "D9X", "product": "SKU-9", "region": "west", "severity": "high",
        "penalty": 20, "alerts": 4, "recent": []}, outcomes=("confirm", "dismiss"))
    login(client, hq.user.username)
    page = client.get(f"/console/tasks/{activation}")
    assert "/console/tier?dealer=S1X" in page.text and "Quiet Doors" in page.text
    assert "Call the dealer" in page.text and "Send its policies" in page.text
    page = client.get(f"/console/tasks/{investigation}")
    assert 'href="/console/cases/424242"' in page.text and "SKU-9" in page.text and "20 points" in page.text
    assert 'name="reviewed"' in page.text


# --- notifications -----------------------------------------------------------------------------

def notify(sessions, dealer, n: int) -> list[int]:
    with sessions.begin() as s:
        rows = [Notification(recipient_dealer_id=dealer.dealer.id, kind="statement", title=f"Note {i}",
                             body="read me", link="/console/statements") for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def test_notifications_count_unread_and_are_marked_read(client, sessions, make_dealer):
    dealer, other = make_dealer(), make_dealer()
    ids = notify(sessions, dealer, 3)
    login(client, other.user.username)
    assert client.post(f"/console/notifications/{ids[0]}/read").status_code == 404  # not theirs
    client.cookies.clear()
    login(client, dealer.user.username)
    page = client.get("/console/notifications")
    assert '<span class="count" aria-label="3 unread">3</span>' in page.text  # the header's badge
    assert pager_text(page.text) == "page 1 of 1 · 3 in all" and page.text.count("Note ") == 3
    chinese = client.get("/console/notifications", headers={"Accept-Language": "zh-CN"})
    assert pager_text(chinese.text) == "第 1 页，共 1 页 · 共 3 条" and "全部标为已读" in chinese.text
    r = client.post(f"/console/notifications/{ids[0]}/read", follow_redirects=False)
    assert r.status_code == 303
    after = client.get(r.headers["location"])
    assert "Notification marked read." in after.text and 'aria-label="2 unread">2</span>' in after.text
    assert pager_text(client.get("/console/notifications", params={"show": "unread"}).text) == \
        "page 1 of 1 · 2 in all"
    client.post("/console/notifications/read")
    assert 'class="count"' not in client.get("/console/orders").text
    with sessions() as s:
        assert s.scalar(select(Notification.read_at).where(Notification.id == ids[2])) is not None


# --- forms keep their input --------------------------------------------------------------------

def test_the_order_form_keeps_its_input_after_an_error(client, make_dealer, product):
    dealer = make_dealer()
    login(client, dealer.user.username)
    r = client.post("/console/orders", data={"sku": product.sku, "quantity": "0"})
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert f'<option value="{product.sku}" selected>' in r.text and 'value="0"' in r.text
    assert re.search(r'<label class="invalid">Quantity <input name="quantity"[^>]*aria-invalid="true"', r.text)
    r = client.post("/console/orders", data={"sku": product.sku, "quantity": "three"})
    assert r.status_code == 422 and "Enter the quantity as a whole number." in r.text and 'value="three"' in r.text


# --- rule texts in the reader's language -------------------------------------------------------

def test_the_credit_reason_is_shown_in_the_readers_language(client, make_dealer, make_user, product):
    dealer, approver = make_dealer(), make_user("credit_manager")
    placed = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]},
                         headers=dealer.headers).json()
    wait_until(lambda: client.get(f"/api/v1/orders/{placed['id']}", headers=dealer.headers).json()["decision"])
    login(client, approver.user.username)
    english = client.get(f"/console/orders/{placed['id']}")
    assert "fits in the credit headroom with rating A or B — " in english.text
    chinese = client.get(f"/console/orders/{placed['id']}", headers={"Accept-Language": "zh-CN"})
    assert "在可用信用额度内，且信用评级为A或B — " in chinese.text
