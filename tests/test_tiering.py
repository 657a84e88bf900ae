"""Re-tiering end to end on the real servers: figures from the database → scores through the rules →
changes applied (core downgrades wait for HQ) → dealers told → history kept; silent dealers flagged,
their account managers asked, and the flag cleared by the next order; a month runs once.

A run re-tiers every dealer of the shared database, so each test keeps to a region of its own and
takes the month after the last one run (runs only go forward)."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, insert, select

from dealerflow.shared import accounts
from dealerflow.contracts import RetieringInput
from dealerflow.core.temporal import connect
from dealerflow.models import Dealer, OrderReturn, Policy, PolicyAssignment, PolicyTarget, TierScore, TieringRun
from dealerflow.tiering.runs import months_before

from workflows import TieringScheduleWorkflow

from .policy_support import inbox_task, unique
from .settlement_support import delivered
from .support import PASSWORD, wait_until, send_csrf

TIERING = """\
ruleset: tiering
kind: tiering
tiering:
  dimensions:
{dimensions}
  tiers:
    - {{name: core, min_score: 80, benefits: [New products first]}}
    - {{name: key, min_score: 60, benefits: [Free training]}}
    - {{name: normal, benefits: [Standard policies]}}
  overrides:
    - name: growing
      from: [normal]
      when: order_growth_m1 >= 0.5 and order_growth_m2 >= 0.5 and order_growth_m3 >= 0.5
      to: key
  tags:
    rules: [{{tag: door_specialist, when: top_category == "door" and category_share >= 0.9}}]
    manual: [rural_market]
"""
BY_RANK = ("    - {key: scale, weight: 60%, from: purchases_rank_in_region, scale: [{at: 0, score: 0}, {at: 100, score: 100}]}\n"
           "    - {key: expertise, weight: 40%, from: category_share, scale: [{at: 0, score: 0}, {at: 1, score: 100}]}")
BY_TERMINALS = "    - {key: terminals, weight: 100%, from: terminal_stores, bands: [{at: 1, score: 50}, {at: 2, score: 100}]}"
APPROVAL = "  approval: {downgrade_from: [core], role: hq, sla: 30s}\n"
SILENT = ("  silent:\n    after: 6 months\n    task: {role: account_manager, sla: 1h}\n"
          "    actions: {default: [Call the dealer], rural_market: [Offer the township kit]}\n")


def login(client, actor) -> None:
    send_csrf(client)
    r = client.post("/console/login", data={"username": actor.user.username, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def tiering_yaml(dimensions: str = BY_RANK, extra: str = "") -> str:
    return TIERING.format(dimensions=dimensions) + extra


def deploy(client, admin, text: str) -> None:
    r = client.post("/api/v1/rules/deploy", params={"filename": "rules/tiering.yaml"}, content=text.encode(),
                    headers={**admin.headers, "Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text


def next_month(sessions) -> tuple[str, date]:
    """The month after the last one run (runs only go forward), and its first day: the run's figures
    cover the 12 months before it."""
    with sessions() as s:
        latest = s.scalar(select(func.max(TieringRun.month)))
    first = date(2024, 1, 1) if latest is None else months_before(date.fromisoformat(f"{latest}-01"), -1)
    return first.strftime("%Y-%m"), first


def before(as_of: date, *, months: int = 0, days: int = 0) -> str:
    """A day `months` and `days` before `as_of`, as the order helpers take it."""
    return (months_before(as_of, months) + timedelta(days=10) - timedelta(days=days)).isoformat() if months else \
        (as_of - timedelta(days=days)).isoformat()


def start(client, hq, month: str) -> dict:
    r = client.post("/api/v1/tiering/runs", json={"month": month}, headers=hq.headers)
    assert r.status_code == 202, r.text
    return r.json()


def run_at(client, hq, month: str, stage: str, timeout: float = 30) -> dict:
    def look():
        r = client.get(f"/api/v1/tiering/runs/{month}", headers=hq.headers)
        return r.status_code == 200 and r.json()["stage"] == stage and r.json()
    return wait_until(look, timeout)


def tier_of(client, actor, dealer) -> dict:
    r = client.get(f"/api/v1/dealers/{dealer.dealer.code}/tier", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_run_scores_every_dealer_applies_changes_and_explains_them(client, make_dealer, make_user, product, sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("tr")
    big, small = make_dealer(region=region), make_dealer(region=region, tier="core")
    idle = make_dealer(region=region, tags=["rural_market", "door_specialist"])
    deploy(client, admin, tiering_yaml())
    month, as_of = next_month(sessions)
    delivered(sessions, big, product, 100, before(as_of, days=30))  # 10000.00: the region's top
    delivered(sessions, small, product, 10, before(as_of, days=30))  # 1000.00
    delivered(sessions, small, product, 10, before(as_of, days=0))  # on the 1st: after the run's figures
    delivered(sessions, idle, product, 50, before(as_of, months=13))  # more than a year before: prior purchases

    started = start(client, hq, month)
    assert started == {"month": month, "workflow_id": f"tiering-{month}", "action": "started"}
    run = run_at(client, hq, month, "closed")
    assert run["totals"]["dealers"] >= 3 and run["approval"] is None

    mine = tier_of(client, big, big)
    assert (mine["tier"], mine["tier_title"], mine["tags"], mine["benefits"]) == (
        "core", "core", ["door_specialist"], ["New products first"])
    card = mine["scorecard"]
    assert (card["month"], card["score"], card["status"], card["override"]) == (month, "100.00", "applied", None)
    assert [(d["key"], d["score"], d["weight"]) for d in card["dimensions"]] == [
        ("scale", "100.00", "60%"), ("expertise", "100.00", "40%")]
    assert card["dimensions"][0]["why"] == "purchases_rank_in_region 100 on the scale 0→0, 100→100 = 100.00"
    assert card["figures"]["purchases"] == "10000.00" and card["ruleset"] == "tiering" and card["version"] >= 1
    assert card["reason"] == "score 100.00 reaches core (80); tags set: door_specialist"
    assert mine["history"][0] == {"month": month, "score": "100.00", "from": "normal", "to": "core",
                                  "status": "applied", "override": None, "tags_before": [],
                                  "tags_after": ["door_specialist"], "decided_by": "rules"}
    # Of three dealers, the middle one ranks 50: 60% × 50 + 40% × 100 = 70. A core dealer falls to key
    # without approval when the file names no tier whose downgrades wait.
    assert (tier_of(client, hq, small)["tier"], tier_of(client, hq, small)["scorecard"]["score"]) == ("key", "70.00")
    quiet = tier_of(client, hq, idle)
    assert (quiet["tier"], quiet["tags"], quiet["scorecard"]["score"]) == ("normal", ["rural_market"], "0.00")
    assert quiet["scorecard"]["figures"]["prior_purchases"] == "5000.00"
    assert [n["title"] for n in client.get("/api/v1/notifications", headers=big.headers).json()
            if n["kind"] == "tier"] == [f"Your tier from {month}: core"]

    assert client.get(f"/api/v1/dealers/{small.dealer.code}/tier", headers=big.headers).status_code == 404
    assert client.get("/api/v1/dealers/NOPE/tier", headers=hq.headers).status_code == 404
    spread = client.get("/api/v1/tiering/distribution", headers=hq.headers).json()
    assert spread["tiers"][:3] == ["core", "key", "normal"]
    assert spread["by_region"][region] == {"core": 1, "key": 1, "normal": 1}

    login(client, big)  # the console shows the same
    page = client.get("/console/tier")
    assert page.status_code == 200 and f"Scorecard {month}: 100.00" in page.text and "New products first" in page.text
    assert client.get(f"/console/tier?dealer={small.dealer.code}").status_code == 200  # a dealer sees its own only
    assert small.dealer.code not in client.get(f"/console/tier?dealer={small.dealer.code}").text
    assert client.get("/console/tiering").status_code == 403
    login(client, hq)
    page = client.get(f"/console/tiering?month={month}")
    assert page.status_code == 200 and f"Run {month}" in page.text and f"<td>{region}</td>" in page.text
    assert "score 100.00 reaches core (80); tags set: door_specialist" in page.text
    assert client.get("/console/tier?dealer=NOPE").status_code == 404

    again = start(client, make_user("hq"), month)  # the same month asked for twice runs once
    assert again["action"] == "existing"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(TieringRun).where(TieringRun.month == month)) == 1
        assert s.scalar(select(func.count()).select_from(TierScore).where(
            TierScore.run_month == month, TierScore.dealer_id == big.dealer.id)) == 1


def test_figures_come_from_orders_policies_and_the_dealer_network(client, make_dealer, make_user, product, sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("tf")
    growing, steady = make_dealer(region=region), make_dealer(region=region)
    store = make_dealer(region=region, level=2, parent_id=growing.dealer.id)
    deploy(client, admin, tiering_yaml(BY_TERMINALS))
    month, as_of = next_month(sessions)
    last = {}
    for dealer, recent in ((growing, (15, 15, 15)), (steady, (15, 14, 15))):
        for k in range(4, 16):  # the usual month: 1000.00, in each of the 12 months before the last three
            delivered(sessions, dealer, product, 10, before(as_of, months=k))
        for k, units in zip((3, 2, 1), recent[::-1]):  # +50% in each of the last three months (steady: +40% once)
            last[dealer.dealer.id] = delivered(sessions, dealer, product, units, before(as_of, months=k))
    delivered(sessions, store, product, 1, before(as_of, days=10))  # an active terminal store of `growing`
    returned = last[growing.dealer.id]
    with sessions.begin() as s:  # goods sent back, two policies due, two tasks due
        s.execute(insert(OrderReturn).values(
            reference=unique("RT"), order_id=returned, dealer_id=growing.dealer.id, product_id=product.id,
            sku=product.sku, quantity=5, amount=Decimal("500.00"), returned_at=accounts.day_start(as_of) - timedelta(days=5),
            reason="damaged", recorded_by="test"))
        policy = unique("pol")
        s.add(Policy(id=policy, version=1, title="t", category="promotion", status="active",
                     workflow_id=f"policy-{policy}", published_by="hq"))
        s.flush()
        delivered_at = accounts.day_start(as_of) - timedelta(days=40)
        for dealer_id, late in ((growing.dealer.id, False), (steady.dealer.id, True)):
            s.add(PolicyTarget(policy_id=policy, dealer_id=dealer_id, targeted_version=1, facts={},
                               delivered_at=delivered_at, delivered_version=1, ack_due_at=delivered_at + timedelta(days=2),
                               acknowledged_at=delivered_at + timedelta(days=1), acknowledged_version=1,
                               acknowledged_late=late))
        for key, accepted in (("a", True), ("b", False)):
            s.add(PolicyAssignment(id=uuid.uuid4(), policy_id=policy, task_key=key, dealer_id=growing.dealer.id,
                                   status="accepted" if accepted else "assigned", due_at=delivered_at + timedelta(days=7),
                                   accepted_at=delivered_at + timedelta(days=3) if accepted else None,
                                   created_at=delivered_at))

    start(client, hq, month)
    run_at(client, hq, month, "closed")
    card = tier_of(client, hq, growing)
    f = card["scorecard"]["figures"]
    assert (f["purchases"], f["prior_purchases"]) == ("13000.00", "3000.00")  # 4500 + 9 × 1000 - 500 returned
    assert (f["order_growth_m1"], f["order_growth_m2"], f["order_growth_m3"]) == ("0.5", "0.5", "0.5")
    assert (f["terminal_stores"], f["top_category"], f["category_share"]) == (1, "door", "1")
    assert (f["ack_on_time_rate"], f["policies_due"], f["task_completion_rate"], f["tasks_due"]) == ("1", 1, "0.5", 2)
    assert f["purchases_rank_in_region"] == "50"  # steady bought 13400.00, the store 100.00
    # 50 points by terminals: normal by score, lifted to key by three months of +50% orders
    assert (card["tier"], card["scorecard"]["scored_tier"], card["scorecard"]["override"]["name"]) == (
        "key", "normal", "growing")
    other = tier_of(client, hq, steady)
    assert (other["tier"], other["scorecard"]["figures"]["order_growth_m2"], other["scorecard"]["override"]) == (
        "normal", "0.4", None)
    assert (other["scorecard"]["figures"]["ack_on_time_rate"], other["scorecard"]["figures"]["tasks_due"]) == ("0", 0)
    assert tier_of(client, hq, store)["scorecard"]["figures"]["terminal_stores"] == 0


def test_a_core_downgrade_waits_for_hq_then_is_applied_or_kept(client, make_dealer, make_user, sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("ta")
    falling, slipping = make_dealer(region=region, tier="core"), make_dealer(region=region, tier="key")
    deploy(client, admin, tiering_yaml(extra=APPROVAL))
    month, _ = next_month(sessions)
    start(client, hq, month)
    waiting = run_at(client, hq, month, "awaiting_approval")
    assert waiting["totals"]["awaiting_approval"] >= 1
    task = inbox_task(client, hq, lambda t: t["kind"] == "tier_downgrade" and t["subject_id"] == month)
    listed = {d["code"]: d for d in task["payload"]["dealers"]}
    assert listed[falling.dealer.code]["from"] == "core" and listed[falling.dealer.code]["to"] == "normal"
    assert slipping.dealer.code not in listed  # a key dealer's downgrade needs nobody
    assert tier_of(client, hq, slipping)["tier"] == "normal"
    held = tier_of(client, falling, falling)
    assert (held["tier"], held["scorecard"]["status"], held["scorecard"]["proposed_tier"]) == (
        "core", "awaiting_approval", "normal")
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"},
                       headers=hq.headers).status_code == 200
    closed = run_at(client, hq, month, "closed")
    assert closed["approval"]["outcome"] == "approve" and closed["approval"]["actor"] == hq.user.username
    now = tier_of(client, falling, falling)
    assert (now["tier"], now["history"][0]["status"], now["history"][0]["decided_by"]) == (
        "normal", "applied", hq.user.username)

    kept = make_dealer(region=region, tier="core")
    month, _ = next_month(sessions)
    start(client, hq, month)
    run_at(client, hq, month, "awaiting_approval")
    task = inbox_task(client, hq, lambda t: t["kind"] == "tier_downgrade" and t["subject_id"] == month)
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "reject", "comment": "strategic"},
                       headers=hq.headers).status_code == 200
    closed = run_at(client, hq, month, "closed")
    assert closed["approval"]["outcome"] == "reject"
    assert any(c["dealer"] == kept.dealer.code and c["status"] == "rejected" for c in closed["changes"])
    mine = tier_of(client, kept, kept)
    assert (mine["tier"], mine["scorecard"]["status"]) == ("core", "rejected")


def test_a_silent_dealer_is_flagged_its_manager_asked_and_the_next_order_activates_it(
        client, make_dealer, make_user, product, sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("ts")
    manager, other_manager = make_user("account_manager"), make_user("account_manager")
    joined = datetime.now(timezone.utc) - timedelta(days=800)
    quiet = make_dealer(region=region, cooperation_since=joined.astimezone(accounts.CHINA).date(), account_manager=manager.user.username, tags=["rural_market"])
    busy = make_dealer(region=region, cooperation_since=joined.astimezone(accounts.CHINA).date(), account_manager=manager.user.username)
    fresh = make_dealer(region=region, account_manager=manager.user.username)  # joined today: not silent yet
    today = datetime.now(accounts.CHINA).date()
    delivered(sessions, quiet, product, 3, (today - timedelta(days=200)).isoformat())
    delivered(sessions, busy, product, 3, (today - timedelta(days=20)).isoformat())
    deploy(client, admin, tiering_yaml(extra=SILENT))
    month, _ = next_month(sessions)
    start(client, hq, month)
    closed = run_at(client, hq, month, "closed")
    assert closed["totals"]["silent_flagged"] >= 1

    task = inbox_task(client, manager, lambda t: t["kind"] == "dealer_activation" and t["subject_id"] == month)
    assert [d["code"] for d in task["payload"]["dealers"]] == [quiet.dealer.code]
    assert task["payload"]["dealers"][0]["actions"] == ["Call the dealer", "Offer the township kit"]
    assert task["outcomes"] == ["contacted", "unreachable"]
    seen = client.get("/api/v1/tiering/silent", headers=manager.headers).json()
    assert [d["dealer"] for d in seen["dealers"]] == [quiet.dealer.code] and seen["activation_rate"] == "0.0000"
    assert seen["dealers"][0]["task_status"] == "open"
    assert client.get("/api/v1/tiering/silent", headers=other_manager.headers).json()["flagged"] == 0
    hq_view = client.get("/api/v1/tiering/silent", headers=hq.headers).json()
    assert quiet.dealer.code in [d["dealer"] for d in hq_view["dealers"]]
    assert {busy.dealer.code, fresh.dealer.code}.isdisjoint(d["dealer"] for d in hq_view["dealers"])
    assert tier_of(client, quiet, quiet)["silent"]["activated_at"] is None

    r = client.post("/api/v1/orders", json={"lines": [{"sku": product.sku, "quantity": 1}]}, headers=quiet.headers)
    assert r.status_code == 201, r.text
    back = tier_of(client, quiet, quiet)["silent"]
    assert back["activated_at"] is not None and back["activation_order_id"] == r.json()["id"]
    seen = client.get("/api/v1/tiering/silent", headers=manager.headers).json()
    assert (seen["flagged"], seen["activated"], seen["activation_rate"], seen["dealers"]) == (1, 1, "1.0000", [])
    assert seen["by_month"] == [{"month": month, "flagged": 1, "activated": 1, "activation_rate": "1.0000"}]
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "contacted", "comment": "visited"},
                       headers=manager.headers)
    assert done.status_code == 200, done.text


def test_the_monthly_schedule_starts_a_month_once(client, make_user, sessions, settings):
    admin, hq = make_user("admin"), make_user("hq")
    deploy(client, admin, tiering_yaml())
    month, _ = next_month(sessions)

    async def fire_twice() -> list[str]:
        temporal = await connect(settings)
        spec = (await temporal.get_schedule_handle("tiering-monthly").describe()).schedule.spec
        assert [(c.day_of_month[0].start, c.hour[0].start) for c in spec.calendars] == [(1, 0)]  # 08:00 China time
        return [await temporal.execute_workflow(
            TieringScheduleWorkflow.run, RetieringInput(month), id=f"tiering-schedule-{uuid.uuid4()}",
            task_queue=settings.task_queue) for _ in range(2)]

    assert asyncio.run(fire_twice()) == [month, month]
    run = run_at(client, hq, month, "closed")
    assert run["started_by"] == "schedule" and run["workflow_id"] == f"tiering-{month}"
    assert start(client, hq, month)["action"] == "existing"


def test_runs_are_asked_for_by_hq_for_a_month_that_can_run(client, make_dealer, make_user, sessions):
    hq, dealer, manager = make_user("hq"), make_dealer(), make_user("account_manager")
    month, _ = next_month(sessions)
    with sessions() as s:
        latest, first_run = s.execute(select(func.max(TieringRun.month), func.min(TieringRun.month))).one()
    refused = [({"month": "2024-13"}, "is not a month"), ({"month": "2024-Q1"}, "is not a month"),
               ({"month": "2999-01"}, "has not started yet")]
    if latest:  # run alone, this test finds no run before it
        earlier = months_before(date.fromisoformat(f"{first_run}-01"), 1).strftime("%Y-%m")  # never run
        refused.append(({"month": earlier}, f"{latest} has been run, so {earlier} can no longer be"))
    for body, words in refused:
        r = client.post("/api/v1/tiering/runs", json=body, headers=hq.headers)
        assert r.status_code == 422 and words in r.text, (body, r.text)
    assert client.post("/api/v1/tiering/runs", json={"month": month}, headers=dealer.headers).status_code == 403
    assert client.get("/api/v1/tiering/distribution", headers=manager.headers).status_code == 403
    assert client.get("/api/v1/tiering/silent", headers=dealer.headers).status_code == 403
    assert client.get("/api/v1/tiering/runs/1999-01", headers=hq.headers).status_code == 404
    assert client.get(f"/api/v1/dealers/{dealer.dealer.code}/tier", headers=manager.headers).status_code == 404
    with sessions() as s:
        assert s.get(Dealer, dealer.dealer.id).tier == "normal"
