"""Replay and shadow mode for allocation, credit scoring, inventory advice and service targets, end to
end on the real servers: a shadow version is evaluated on every live decision of its kind, its outcome
stored beside the decision and shown on the dashboard, never acted on; a replay of the same candidate
over the stored inputs counts the flip exactly (each test keeps to a region of its own)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from dealerflow.models import Decision, InventoryAdvice, ServiceRequest, ShadowOutcome, StockAllocation

from .policy_support import unique
from .service_support import file as file_request
from .support import wait_until
from .test_console_admin import as_user
from .test_credit import next_month, on_time, score_of
from .test_inventory import DAY, _closed, _run, _stocked
from .test_stock import order, set_stock, warehouse

RULES = Path(__file__).parent.parent / "rules"
YAML = {"Content-Type": "application/yaml"}


def text_of(kind: str) -> str:
    return (RULES / f"{kind}.yaml").read_text(encoding="utf-8")


def changed(kind: str, old: str, new: str) -> str:
    text = text_of(kind)
    assert old in text
    return text.replace(old, new)


def start_shadow(client, admin, kind: str, text: str) -> int:
    r = client.post("/api/v1/rules/shadow", content=text.encode(), params={"filename": f"rules/{kind}.yaml"},
                    headers={**admin.headers, **YAML})
    assert r.status_code == 201, r.text
    return r.json()["version"]


def end_shadow(client, admin, kind: str, version: int) -> None:
    assert client.post(f"/api/v1/rules/shadow/{kind}/{version}/end", headers=admin.headers).status_code == 204


def board(client, admin, kind: str) -> dict:
    r = client.get("/api/v1/rules/shadow", params={"ruleset": kind}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()


def replay(client, admin, kind: str, text: str, **params) -> dict:
    r = client.post("/api/v1/rules/replay", content=text.encode(), params={"filename": f"rules/{kind}.yaml", **params},
                    headers={**admin.headers, **YAML})
    assert r.status_code == 201, r.text
    return r.json()


def region_rows(report: dict, region: str) -> list[dict]:
    return [b for b in report["breakdown"] if b["group"] == "region" and b["key"] == region]


def shadow_kept(sessions, kind: str, subject: str) -> ShadowOutcome:
    with sessions() as s:
        return s.scalars(select(ShadowOutcome).where(ShadowOutcome.ruleset == kind,
                                                     ShadowOutcome.subject == subject)).one()


def test_allocation_shadow_is_stored_never_acted_on_and_its_replay_counts_the_flip(client, make_dealer, make_user,
                                                                                  product, sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("al")
    w = warehouse(client, hq)
    assert set_stock(client, hq, [{"warehouse": w, "sku": product.sku, "on_hand": 2}]).status_code == 200
    dealer = make_dealer(region=region)
    # The candidate queues a short order at priority 60 where the file says 50.
    candidate = changed("allocation", "default:\n  allocate: backorder\n  priority: 50",
                        "default:\n  allocate: backorder\n  priority: 60")
    version = start_shadow(client, admin, "allocation", candidate)
    try:
        placed = order(client, dealer, product.sku, 5).json()  # 2 in stock, 3 short
        assert placed["allocation"]["decision"]["outcome"]["priority"] == 50
        with sessions() as s:
            stored = s.scalars(select(Decision).where(Decision.subject_id == placed["id"],
                                                      Decision.subject_type == "order_allocation")).one()
            queued = {a.priority for a in s.scalars(select(StockAllocation).where(
                StockAllocation.order_id == stored.subject_id))}
        assert stored.shadow[str(version)]["outcome"]["priority"] == 60  # stored …
        assert queued == {50}  # … never acted on: the order waits at the live priority
        assert stored.explanation["inputs"]["dealer.region"] == region and stored.context["amount"] == "500.00"
        shown = board(client, admin, "allocation")
        mine = next(x for x in shown["shadows"] if x["version"] == version)
        assert mine["running"] and mine["disagreed"] >= 1
        row = next(d for d in shown["disagreements"] if d["subject_id"] == placed["id"])
        assert (row["live"], row["shadow"], row["region"]) == ("backorder p50", "backorder p60", region)
    finally:
        end_shadow(client, admin, "allocation", version)

    report = replay(client, admin, "allocation", candidate, since=DAY.isoformat())
    assert region_rows(report, region) == [{"group": "region", "key": region, "from": "backorder", "to": "backorder",
                                            "count": 1, "amount": "500.00"}]
    sample = next(x for x in report["samples"] if x["subject"] == placed["id"])
    assert (sample["from"], sample["to"]) == ("backorder p50", "backorder p60")
    assert sample["before"]["rule"] == sample["after"]["rule"] == "default"
    assert not region_rows(replay(client, admin, "allocation", text_of("allocation"), since=DAY.isoformat()), region)


def test_credit_score_shadow_is_stored_never_applied_and_its_replay_counts_the_flip(client, make_dealer, make_user,
                                                                                   sessions):
    admin, manager, region = make_user("admin"), make_user("credit_manager"), unique("cs")
    month, on = next_month(sessions)
    good = make_dealer(region=region, credit_limit=Decimal("20000.00"), rating="B")
    on_time(sessions, good.dealer.id, on, "30000.00")  # rating A: 3 months of 30,000
    # The candidate gives rating A four months of purchases.
    candidate = changed("credit_score", "min_score: 80, limit_months: 3", "min_score: 80, limit_months: 4")
    version = start_shadow(client, admin, "credit_score", candidate)
    try:
        assert client.post("/api/v1/credit/runs", json={"month": month}, headers=manager.headers).status_code == 202
        wait_until(lambda: client.get(f"/api/v1/credit/runs/{month}", headers=manager.headers).json()
                   .get("stage") == "closed", 60)
    finally:
        end_shadow(client, admin, "credit_score", version)
    card = score_of(sessions, month, good.dealer.id)
    assert (card.new_rating, card.proposed_limit) == ("A", Decimal("90000.00"))  # the live card acts
    kept = shadow_kept(sessions, "credit_score", f"{month}:{good.dealer.code}")
    assert (kept.live, kept.shadow[str(version)]["value"]) == ("A 90000.00", "A 120000.00")
    shown = board(client, admin, "credit_score")
    assert not next(x for x in shown["shadows"] if x["version"] == version)["running"]  # ended, record kept
    row = next(d for d in shown["disagreements"] if d["subject_id"] == f"{month}:{good.dealer.code}")
    assert (row["shadow"], row["region"], row["link"]) == ("A 120000.00", region, f"/console/credit?month={month}")

    report = replay(client, admin, "credit_score", candidate)  # default: the last run, this one
    assert region_rows(report, region) == [{"group": "region", "key": region, "from": "A", "to": "A", "count": 1}]
    sample = next(x for x in report["samples"] if x["subject"] == good.dealer.code)
    assert (sample["from"], sample["to"], sample["amount"]) == ("A 90000.00", "A 120000.00", "30000.00")
    assert "limit" in sample["before"]["reason"] and "limit" in sample["after"]["reason"]
    assert not region_rows(replay(client, admin, "credit_score", text_of("credit_score")), region)


def test_inventory_shadow_is_stored_never_advised_and_its_replay_counts_the_flip(client, make_dealer, make_user,
                                                                                sessions):
    admin, hq, region = make_user("admin"), make_user("hq"), unique("iv")
    dealer = make_dealer(region=region)
    product = _stocked(client, dealer, sessions, 91)  # 91 days of turnover: a clearance
    # The candidate asks for a clearance only over 95 days: 91 days only cuts replenishment.
    candidate = changed("inventory", "clearance: {turnover_over: 90", "clearance: {turnover_over: 95")
    version = start_shadow(client, admin, "inventory", candidate)
    try:
        _run(client, hq, region)
        wait_until(lambda: _closed(sessions, region), timeout=60)
    finally:
        end_shadow(client, admin, "inventory", version)
    with sessions() as s:
        advised = sorted(a.action for a in s.scalars(select(InventoryAdvice).where(
            InventoryAdvice.dealer_id == dealer.dealer.id)))
    assert advised == ["clearance"]  # the live advice, and only it
    kept = shadow_kept(sessions, "inventory", f"{DAY}:{dealer.dealer.code}:{product.sku}")
    assert (kept.live, kept.shadow[str(version)]["value"]) == ("clearance:high", "cut_replenishment:medium")
    row = next(d for d in board(client, admin, "inventory")["disagreements"]
               if d["subject_id"] == f"{DAY}:{dealer.dealer.code}:{product.sku}")
    assert (row["live"], row["shadow"]) == ("clearance:high", "cut_replenishment:medium")

    report = replay(client, admin, "inventory", candidate, since=DAY.isoformat(), until=DAY.isoformat())
    assert region_rows(report, region) == [
        {"group": "region", "key": region, "from": "gained", "to": "cut_replenishment", "count": 1},
        {"group": "region", "key": region, "from": "lost", "to": "clearance", "count": 1}]
    sample = next(x for x in report["samples"] if x["subject"] == f"{dealer.dealer.code} {product.sku}")
    assert (sample["from"], sample["to"]) == ("clearance:high", "cut_replenishment:medium")
    assert not region_rows(replay(client, admin, "inventory", text_of("inventory"), since=DAY.isoformat()), region)


def test_service_shadow_targets_are_stored_never_applied_and_their_replay_counts_the_flip(client, make_dealer,
                                                                                         make_user, sessions):
    admin, region = make_user("admin"), unique("sv")
    dealer = make_dealer(region=region, tier="core")
    candidate = changed("service", "core: {response: 4h, resolution: 24h}", "core: {response: 2h, resolution: 12h}")
    version = start_shadow(client, admin, "service", candidate)
    try:
        r = file_request(client, dealer)
        assert r.status_code == 201, r.text
    finally:
        end_shadow(client, admin, "service", version)
    req = r.json()
    clocks = {c["clock"]: c["target_seconds"] for c in req["clocks"]}
    assert clocks == {"response": 4 * 3600, "resolution": 24 * 3600}  # the live targets run
    with sessions() as s:
        number = s.scalar(select(ServiceRequest.number).where(ServiceRequest.id == req["id"]))
    kept = shadow_kept(sessions, "service", f"{number}:filed")
    assert kept.live.endswith("4h/24h") and kept.shadow[str(version)]["value"].endswith("2h/12h")
    row = next(d for d in board(client, admin, "service")["disagreements"] if d["subject_id"] == f"{number}:filed")
    assert row["link"] == f"/console/service/{req['id']}" and row["region"] == region
    as_user(client, admin)
    page = client.get("/console/rules/shadow", params={"ruleset": "service"})
    assert page.status_code == 200 and f"{number}:filed" in page.text and f"v{version}" in page.text

    report = replay(client, admin, "service", candidate, since=DAY.isoformat())
    assert region_rows(report, region) == [{"group": "region", "key": region, "from": "4h/24h", "to": "2h/12h",
                                            "count": 1}]
    sample = next(x for x in report["samples"] if x["subject"] == f"#{number}")
    assert sample["before"]["rule"] == sample["after"]["rule"] == "default-core"
    assert not region_rows(replay(client, admin, "service", text_of("service"), since=DAY.isoformat()), region)


def test_tiering_shadow_is_stored_never_applied(client, make_dealer, make_user, product, sessions):
    from .settlement_support import delivered
    from .test_tiering import before, deploy, next_month as next_tiering_month, run_at, start, tier_of, tiering_yaml
    admin, hq, region = make_user("admin"), make_user("hq"), unique("tg")
    big, small = make_dealer(region=region), make_dealer(region=region)
    text = tiering_yaml()
    deploy(client, admin, text)
    month, as_of = next_tiering_month(sessions)
    delivered(sessions, big, product, 100, before(as_of, days=30))
    delivered(sessions, small, product, 10, before(as_of, days=30))
    # key from 30: the region's second (score 40) would rise to key; live it stays normal.
    version = start_shadow(client, admin, "tiering", text.replace("min_score: 60", "min_score: 30"))
    try:
        start(client, hq, month)
        run_at(client, hq, month, "closed")
    finally:
        end_shadow(client, admin, "tiering", version)
    assert tier_of(client, hq, small)["tier"] == "normal"  # the live tier applies
    kept = shadow_kept(sessions, "tiering", f"{month}:{small.dealer.code}")
    assert kept.live.startswith("normal [") and kept.shadow[str(version)]["value"].startswith("key [")
    assert not shadow_kept(sessions, "tiering", f"{month}:{big.dealer.code}").live.startswith("normal")
    row = next(d for d in board(client, admin, "tiering")["disagreements"]
               if d["subject_id"] == f"{month}:{small.dealer.code}")
    assert (row["region"], row["link"]) == (region, f"/console/tiering?month={month}")


def test_diversion_shadow_is_stored_never_acted_on(client, make_dealer, make_user, product, sessions):
    from .test_diversion import bind, investigation, load_codes, post_scans, register, scan, with_guide_price
    region, admin, hq = unique("dv"), make_user("admin"), make_user("hq")
    dealer = make_dealer(region=region)
    with_guide_price(sessions, product, "100.00")
    batch_no = register(client, admin, product.sku, 2)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 2)
    # The candidate makes a gap of exactly 40% high (the file: over 40%).
    version = start_shadow(client, admin, "diversion",
                           changed("diversion", "alert.price_gap > 0.4", "alert.price_gap >= 0.4"))
    try:
        case_id = post_scans(client, hq, [scan(codes[0], region, "60.00", "consumer")])["cases_opened"][0]
        assert investigation(client, hq, case_id)["payload"]["severity"] == "medium"  # the live severity acts
    finally:
        end_shadow(client, admin, "diversion", version)
    kept = shadow_kept(sessions, "diversion", f"{case_id}:opened")
    assert (kept.live, kept.shadow[str(version)]["value"]) == ("medium -10", "high -20")
    row = next(d for d in board(client, admin, "diversion")["disagreements"] if d["subject_id"] == f"{case_id}:opened")
    assert (row["region"], row["link"]) == (region, f"/console/cases/{case_id}")


def test_rebate_shadow_is_stored_never_settled(client, make_dealer, make_user, product, sessions):
    from .settlement_support import delivered, deploy_program, program_yaml, region as new_region, start, statement_of
    reg, admin, finance = new_region(), make_user("admin"), make_user("finance")
    small = make_dealer(region=reg)
    text = program_yaml(unique("gov"), reg)
    program = deploy_program(client, admin, text)
    delivered(sessions, small, product, 20, "2025-05-10")  # 2000.00: 1% = 20.00
    candidate = text.replace("{from: 1000, rate: 1%}", "{from: 1000, rate: 1.5%}")
    r = client.post("/api/v1/rules/shadow", content=candidate.encode(),
                    params={"filename": f"rules/rebates/{program}.yaml"}, headers={**admin.headers, **YAML})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    try:
        run_id = start(client, finance, program, "2025-Q2")["run_id"]
        assert statement_of(client, small, run_id)["rebate"] == "20.00"  # the live program settles
    finally:
        end_shadow(client, admin, program, version)
    kept = shadow_kept(sessions, program, f"{run_id}:{small.dealer.code}:r1")
    assert (kept.live, kept.shadow[str(version)]["value"]) == ("20.00", "30.00")
    mine = next(x for x in board(client, admin, program)["shadows"] if x["version"] == version)
    assert (mine["evaluated"], mine["disagreed"]) == (1, 1)
    assert mine["moves"] == [{"from": "20.00", "to": "30.00", "count": 1, "amount": "20.00"}]


def test_the_order_path_reads_allocation_shadows_in_the_same_query_as_the_active_version(client, make_user,
                                                                                        sessions):
    from sqlalchemy import event

    from dealerflow.shared import rulebook

    def statements(call) -> int:
        with sessions() as s:
            call(s)  # warm the per-process compile cache
            seen = []
            conn = s.connection()
            listener = lambda *a: seen.append(a[2])  # noqa: E731
            event.listen(conn, "before_cursor_execute", listener)
            try:
                result = call(s)
            finally:
                event.remove(conn, "before_cursor_execute", listener)
            return len(seen), result

    n, (active, running) = statements(lambda s: rulebook.with_shadows(s, "allocation"))
    assert (n, running) == (1, [])  # no shadow: exactly the one lookup `active` makes
    assert statements(lambda s: rulebook.active(s, "allocation"))[0] == 1
    admin = make_user("admin")
    version = start_shadow(client, admin, "allocation",
                           changed("allocation", "order.short_units >= 500", "order.short_units >= 400"))
    try:
        n, (active, running) = statements(lambda s: rulebook.with_shadows(s, "allocation"))
        assert n == 1 and [r.version for r in running] == [version] and active.version != version
    finally:
        end_shadow(client, admin, "allocation", version)


def test_policy_shadow_targets_are_stored_per_rollout_never_delivered(client, make_dealer, make_user, sessions):
    from dealerflow.models import PolicyTarget

    from .policy_support import deploy, delivered, policy_yaml
    admin, hq, here, there = make_user("admin"), make_user("hq"), unique("pl"), unique("pl")
    live_dealer = make_dealer(region=here)
    others = sorted([make_dealer(region=there), make_dealer(region=there)], key=lambda d: d.dealer.code)
    policy_id, quick = unique("p"), "{required: true, deadline: 1s}"
    assert deploy(client, hq, policy_yaml(policy_id, f'dealer.region == "{here}"', ack=quick)).status_code == 201
    # The candidate targets the other region: it would add its two dealers and drop the live one.
    r = client.post("/api/v1/rules/shadow", content=policy_yaml(policy_id, f'dealer.region == "{there}"', ack=quick).encode(),
                    params={"filename": f"rules/policies/{policy_id}.yaml"}, headers={**admin.headers, **YAML})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    try:
        published = client.post(f"/api/v1/policies/{policy_id}/publish", headers=hq.headers).json()
        assert (published["action"], published["version"]) == ("started", 1)  # the live version rolls out
        assert delivered(client, live_dealer, policy_id)["version"] == 1
    finally:
        end_shadow(client, admin, policy_id, version)
    with sessions() as s:  # the rollout reaches exactly the live targets
        assert set(s.scalars(select(PolicyTarget.dealer_id).where(PolicyTarget.policy_id == policy_id))) \
            == {live_dealer.dealer.id}
        kept = s.scalars(select(ShadowOutcome).where(ShadowOutcome.ruleset == policy_id)).one()
    for other in others:
        assert client.get("/api/v1/policies", headers=other.headers).json() == []
    outcome = kept.shadow[str(version)]
    assert (kept.live, kept.live_version, outcome["value"]) == ("1", 1, "2 (+2 -1)")
    assert outcome["outcome"]["added_sample"] == [d.dealer.code for d in others]
    assert outcome["outcome"]["dropped_sample"] == [live_dealer.dealer.code]
    shown = board(client, admin, policy_id)
    mine = next(x for x in shown["shadows"] if x["version"] == version)
    assert (mine["evaluated"], mine["agreed"], mine["disagreed"], mine["running"]) == (1, 0, 1, False)
    assert [(m["from"], m["to"], m["count"]) for m in mine["moves"]] == [("1", "2 (+2 -1)", 1)]
    row = next(d for d in shown["disagreements"] if d["subject_id"] == kept.subject)
    assert row["link"] == f"/console/policies/{policy_id}" and "drops 1" in row["shadow_reason"]
    as_user(client, admin)
    page = client.get("/console/rules/shadow", params={"ruleset": policy_id})
    assert page.status_code == 200 and "2 (+2 -1)" in page.text
