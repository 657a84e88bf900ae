"""Replay of every kind but credit approval, end to end on the real servers: a replay of the file
that decided changes nothing (inputs are exact), and a changed file's impact is counted exactly."""
from __future__ import annotations

from .policy_support import deploy as deploy_policy, policy_yaml, unique
from .settlement_support import delivered, deploy_program, program_yaml, region, start, statement_of
from .test_tiering import deploy as deploy_tiering, next_month, before, run_at, start as start_tiering, tiering_yaml


def replay(client, user, text, filename, **params):
    return client.post("/api/v1/rules/replay", content=text.encode(), params={"filename": filename, **params},
                       headers={**user.headers, "Content-Type": "application/yaml"})


def test_rebate_replay_gives_the_difference_by_period_and_who_enters_or_leaves(client, make_dealer, make_user, product,
                                                                              sessions):
    reg, other, admin, finance = region(), region(), make_user("admin"), make_user("finance")
    big, small = make_dealer(region=reg), make_dealer(region=reg)
    newcomer = make_dealer(region=other)
    text = program_yaml(unique("gov"), reg)
    program = deploy_program(client, admin, text)
    delivered(sessions, big, product, 60, "2025-05-10")  # 6000.00: 2% = 120.00
    delivered(sessions, small, product, 20, "2025-05-10")  # 2000.00: 1% = 20.00
    delivered(sessions, newcomer, product, 30, "2025-05-10")  # 3000.00, outside the program's region
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    assert statement_of(client, big, run_id)["rebate"] == "120.00"
    filename = f"rules/rebates/{program}.yaml"

    same = replay(client, admin, text, filename)
    assert same.status_code == 201, same.text
    assert (same.json()["totals"]["changed"], same.json()["totals"]["difference"]) == (0, "0.00")

    # 1% from 1000 becomes 1.5%, and the other region takes part.
    richer = text.replace("{from: 1000, rate: 1%}", "{from: 1000, rate: 1.5%}").replace(
        f"eligible: 'dealer.region == \"{reg}\"'", f"eligible: 'dealer.region in [\"{reg}\", \"{other}\"]'")
    report = replay(client, admin, richer, filename).json()
    t = report["totals"]
    # small: 30.00 (+10.00); big unchanged at 2%; newcomer enters at 1.5% of 3000.00 = 45.00
    assert (t["rebate_before"], t["rebate_after"], t["difference"]) == ("140.00", "195.00", "55.00")
    assert (t["entering"], t["leaving"], t["changed"]) == (1, 0, 2)
    assert report["breakdown"] == [{"group": "period", "key": f"{program} 2025-Q2", "from": "140.00", "to": "195.00",
                                    "count": None, "amount": "55.00"}]
    assert [(s["subject"], s["amount"]) for s in report["samples"]] == [
        (newcomer.dealer.code, "45.00"), (small.dealer.code, "10.00")]


def test_rebate_replay_decides_who_enters_on_the_figures_the_run_read(client, make_dealer, make_user, product,
                                                                      sessions):
    from datetime import date

    from sqlalchemy import delete, update

    from dealerflow.models import Dealer, SettlementFigures
    reg, admin, finance = region(), make_user("admin"), make_user("finance")
    member = make_dealer(region=reg, cooperation_since=date(2020, 1, 1))  # 5 full years at 2025-06-30
    near = make_dealer(region=reg, cooperation_since=date(2023, 1, 1))  # 2
    far = make_dealer(region=reg, cooperation_since=date(2024, 1, 1))  # 1
    live = f"eligible: 'dealer.region == \"{reg}\"'"
    text = program_yaml(unique("gov"), reg).replace(live, f"eligible: 'dealer.region == \"{reg}\" and dealer.years >= 3'")
    program = deploy_program(client, admin, text)
    delivered(sessions, member, product, 20, "2025-05-10")  # 2000.00: 1% = 20.00
    delivered(sessions, near, product, 30, "2025-05-10")  # 3000.00: 1% = 30.00, 2 years when settled
    delivered(sessions, far, product, 40, "2025-05-10")  # 4000.00: 1% = 40.00, 1 year when settled
    run_id = start(client, finance, program, "2025-Q2")["run_id"]
    assert statement_of(client, member, run_id)["rebate"] == "20.00"
    with sessions.begin() as s:  # their start dates are corrected after the settlement
        s.execute(update(Dealer).where(Dealer.id == near.dealer.id).values(cooperation_since=date(2024, 1, 1)))
        s.execute(update(Dealer).where(Dealer.id == far.dealer.id).values(cooperation_since=date(2023, 1, 1)))
    # The candidate lowers the bar to 2 years: on the period's facts exactly `near` enters.
    lower = text.replace("dealer.years >= 3", "dealer.years >= 2")
    filename = f"rules/rebates/{program}.yaml"
    report = replay(client, admin, lower, filename).json()
    t = report["totals"]
    assert (t["entering"], t["leaving"], t["changed"], t["difference"]) == (1, 0, 1, "30.00")
    assert (t["runs_recomputed"], t["entering_recomputed"]) == (0, 0)
    assert [(x["subject"], x["amount"]) for x in report["samples"]] == [(near.dealer.code, "30.00")]
    # A run settled before the figures were kept falls back to today's facts, and the report says so.
    with sessions.begin() as s:
        s.execute(delete(SettlementFigures).where(SettlementFigures.run_id == run_id))
    legacy = replay(client, admin, lower, filename).json()
    assert (legacy["totals"]["runs_recomputed"], legacy["totals"]["entering_recomputed"]) == (1, 1)
    assert [(x["subject"], x["amount"]) for x in legacy["samples"]] == [(far.dealer.code, "40.00")]
    assert "recomputed from today's facts" in legacy["samples"][0]["before"]["reason"]


def test_policy_replay_names_who_is_targeted_in_and_out(client, make_dealer, make_user):
    reg = unique("pr")
    hq = make_user("hq")
    make_dealer(region=reg, tier="gold")  # targeted by both versions
    plain = make_dealer(region=reg, tier="normal")
    policy_id = unique("gov_policy")
    text = policy_yaml(policy_id, f'dealer.region == "{reg}" and dealer.tier == "gold"')
    assert deploy_policy(client, hq, text).status_code == 201
    same = replay(client, hq, text, f"rules/policies/{policy_id}.yaml").json()
    assert same["totals"]["changed"] == 0 and same["totals"]["targets"] == 1
    wider = policy_yaml(policy_id, f'dealer.region == "{reg}"')
    report = replay(client, hq, wider, f"rules/policies/{policy_id}.yaml").json()
    assert (report["totals"]["targeted_in"], report["totals"]["targeted_out"]) == (1, 0)
    assert report["breakdown"] == [{"group": "region", "key": reg, "from": "", "to": "in", "count": 1}]
    assert report["samples"][0]["subject"] == plain.dealer.code


def test_tiering_replay_counts_tier_moves_against_the_last_run(client, make_dealer, make_user, product, sessions):
    admin, hq, reg = make_user("admin"), make_user("hq"), unique("tg")
    big, small = make_dealer(region=reg), make_dealer(region=reg)
    text = tiering_yaml()
    deploy_tiering(client, admin, text)
    month, as_of = next_month(sessions)
    delivered(sessions, big, product, 100, before(as_of, days=30))
    delivered(sessions, small, product, 10, before(as_of, days=30))
    start_tiering(client, hq, month)
    run_at(client, hq, month, "closed")

    same = replay(client, admin, text, "rules/tiering.yaml").json()
    assert same["totals"]["changed"] == 0 and same["totals"]["replayed"] >= 2
    # key from 30: the region's second (rank 0, all doors: score 40) rises to key; the top (100) stays core.
    harder = text.replace("min_score: 60", "min_score: 30")
    report = replay(client, admin, harder, "rules/tiering.yaml")
    assert report.status_code == 201, report.text
    moved = [s for s in report.json()["samples"] if s["subject"] == small.dealer.code]
    assert moved and (moved[0]["from"], moved[0]["to"]) == ("normal", "key")
    assert moved[0]["after"]["reason"].startswith("score 40.00 reaches key (30)")
    assert not [s for s in report.json()["samples"] if s["subject"] == big.dealer.code]
    assert report.json()["totals"]["up"] >= 1
    assert any(b["group"] == "tier" and (b["from"], b["to"]) == ("normal", "key") for b in report.json()["breakdown"])


def test_diversion_replay_gives_severity_and_penalty_changes(client, make_dealer, make_user, product, sessions):
    from pathlib import Path

    from .test_diversion import bind, investigation, load_codes, post_scans, register, scan, with_guide_price

    reg, admin, hq = unique("dv"), make_user("admin"), make_user("hq")
    dealer = make_dealer(region=reg)
    with_guide_price(sessions, product, "100.00")
    batch_no = register(client, admin, product.sku, 2)
    load_codes(sessions, batch_no)
    codes = bind(client, admin, dealer, batch_no, 1, 2)
    case_id = post_scans(client, hq, [scan(codes[0], reg, "60.00", "consumer")])["cases_opened"][0]
    assert investigation(client, hq, case_id)["payload"]["severity"] == "medium"  # 40% under: medium
    text = (Path(__file__).parent.parent / "rules" / "diversion.yaml").read_text(encoding="utf-8")
    same = replay(client, admin, text, "rules/diversion.yaml").json()
    assert not [b for b in same["breakdown"] if b["key"] == reg]
    stricter = text.replace("alert.price_gap > 0.4", "alert.price_gap >= 0.4")
    stricter = stricter.replace('given: {alert.trigger: price, alert.price_gap: "0.40"}\n    expect: {severity: medium}',
                                'given: {alert.trigger: price, alert.price_gap: "0.40"}\n    expect: {severity: high}')
    report = replay(client, admin, stricter, "rules/diversion.yaml")
    assert report.status_code == 201, report.text
    assert [b for b in report.json()["breakdown"] if b["key"] == reg] == [
        {"group": "region", "key": reg, "from": "medium", "to": "high", "count": 1}]
    sample = next(s for s in report.json()["samples"] if s["subject"] == str(case_id))
    assert (sample["before"]["penalty"], sample["after"]["penalty"]) == (10, 20)
