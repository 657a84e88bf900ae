"""Rule governance benchmarks, on the embedded PostgreSQL (and, for the shadow, the product's worker
and API processes), each part with its baseline in the same run:

  replay   — N stored credit decisions replayed through a candidate file (the stream from the
             database, the engine, the comparison): decisions/s, against the engine's own decide()
             rate on the same facts in memory; resident memory sampled along the way (flat: it streams).
  shadow   — order placement over HTTP, orders/s and p50, without and then with a shadow version of
             the credit file evaluated beside the active one.
  rebate   — a quarter of a rebate program settled for D dealers (the product's freeze), then the
             replay of a changed program over it: time.

    .venv/bin/python bench/rule_replay.py [--scale 1.0] [--parts replay,shadow,rebate]
    (scale 1: 1,000,000 decisions, 300 orders each way, 1,000 dealers)
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import time
import uuid
from datetime import date, datetime, time as dtime, timezone
from decimal import Decimal
from pathlib import Path

import psutil
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import BenchStack  # noqa: E402
from credit_decision import facts as random_facts  # noqa: E402
from order_placement import make_data, run_clients  # noqa: E402

from dealerflow.contracts import SettlementInput  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.governance.replay import Window  # noqa: E402
from dealerflow.governance.replayers import credit_approval as credit_replay, rebate as rebate_replay  # noqa: E402
from dealerflow.models import Dealer, Order, OrderLine, Product  # noqa: E402
from dealerflow.rebates import settlement  # noqa: E402
from dealerflow.shared import accounts, rulebook  # noqa: E402
from policies_dsl import compile_rule_file, load_rule_file  # noqa: E402

CREDIT = (ROOT / "rules" / "credit_approval.yaml").read_text(encoding="utf-8")
STRICTER = CREDIT.replace('dealer.rating in ["A", "B"]', 'dealer.rating in ["A"]').replace(
    "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: B",
    "name: amount exactly equal to the headroom is approved\n    given: {dealer.rating: A")


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def shown(f: dict) -> dict:
    return {k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in f.items()}


def store_decisions(sessions, n: int, ruleset) -> None:
    """N credit decisions as the platform stores them (facts, outcome, context), by COPY."""
    rng = random.Random(7)
    regions, tiers = ["east", "north", "south", "west"], ["core", "key", "normal"]
    raw = sessions.kw["bind"].raw_connection()
    try:
        cur = raw.cursor()
        chunk = 100_000
        for start in range(0, n, chunk):
            buf = io.StringIO()
            for i in range(start, min(n, start + chunk)):
                f = random_facts(rng)
                d = ruleset.decide(f)
                explanation = json.dumps({"ruleset": "credit_approval", "version": 1, "rule": d.rule,
                                          "reason": d.reason, "facts": d.facts, "outcome": d.outcome})
                context = json.dumps({"region": rng.choice(regions), "tier": rng.choice(tiers),
                                      "amount": f"{f['order.amount']:.2f}"})
                buf.write("\t".join(["order", str(uuid.UUID(int=i + 1)), "credit_approval", "1", d.rule,
                                     json.dumps(d.outcome).replace("\\", "\\\\"), explanation.replace("\\", "\\\\"),
                                     context]) + "\n")
            buf.seek(0)
            cur.copy_expert("copy decisions (subject_type, subject_id, ruleset, version, rule, outcome, explanation,"
                            " context) from stdin", buf)
            raw.commit()
    finally:
        raw.close()


def bench_replay(bench: BenchStack, n: int) -> None:
    sessions = make_sessionmaker(make_engine(bench.settings.database_url))
    active = compile_rule_file(load_rule_file("rules/credit_approval.yaml", CREDIT), 1)
    candidate = compile_rule_file(load_rule_file("rules/credit_approval.yaml", STRICTER), 0)
    t = time.perf_counter()
    store_decisions(sessions, n, active)
    with sessions() as s:
        s.execute(text("analyze decisions"))
    print(f"  stored {n:,} decisions in {time.perf_counter() - t:.0f} s")

    # The engine alone: decide() on the same kind of facts, in memory (as stored: text amounts).
    rng = random.Random(7)
    sample = [shown(random_facts(rng)) for _ in range(min(n, 200_000))]
    for f in sample[:2000]:
        candidate.decide(f)
    t = time.perf_counter()
    for f in sample:
        candidate.decide(f)
    engine_rate = len(sample) / (time.perf_counter() - t)

    memory = []

    def sampled(rows):
        for i, row in enumerate(rows):
            if i % 100_000 == 0:
                memory.append(rss_mb())
            yield row

    with sessions() as s:
        t = time.perf_counter()
        outcome = credit_replay.replay_rows(candidate, sampled(credit_replay.stored(s, Window())), 20)
        wall = time.perf_counter() - t
    memory.append(rss_mb())
    rate = outcome.totals["replayed"] / wall
    print(f"  replay through the engine : {rate:10,.0f} decisions/s   ({outcome.totals['replayed']:,} replayed, "
          f"{outcome.totals['changed']:,} flip, {wall:.1f} s)")
    print(f"  engine decide() alone     : {engine_rate:10,.0f} decisions/s   (same run, {len(sample):,} facts in memory)")
    print(f"  replay / engine           : {rate / engine_rate:.2f}×   (aim: ≥ 0.5×)")
    print(f"  resident memory during replay (MB, every 100,000 rows): "
          + " ".join(f"{m:.0f}" for m in memory))


def bench_shadow(bench: BenchStack, orders: int, rounds: int = 3) -> None:
    """Rounds without and with a shadow, alternated (the machine's other load falls on both alike)."""
    tokens = make_data(bench.settings, dealers=200)
    bench.worker()
    bench.api()
    base = f"http://127.0.0.1:{bench.settings.api_port}"
    asyncio.run(run_clients(base, tokens, 4, 40))  # warm-up
    sessions = make_sessionmaker(make_engine(bench.settings.database_url))
    results = {False: [], True: []}
    per_round = max(20, orders // rounds)
    for _ in range(rounds):
        for shadowed in (False, True):
            with sessions.begin() as s:
                if shadowed:
                    rulebook.deploy(s, filename="rules/credit_approval.yaml", text=STRICTER, actor="bench",
                                    mode="shadow")
                else:
                    for v in s.scalars(text("select version from rule_versions where mode = 'shadow' "
                                            "and shadow_ended_at is null")):
                        rulebook.end_shadow(s, "credit_approval", v)
            asyncio.run(run_clients(base, tokens, 4, 8))  # the shadow compiled (or dropped) in the worker
            results[shadowed].append(asyncio.run(run_clients(base, tokens, 4, per_round)))
    with sessions() as s:
        carried = s.scalar(text("select count(*) from decisions where jsonb_typeof(shadow) = 'object'"))

    def summary(rs):
        return sum(r["orders/s"] for r in rs) / len(rs), sorted(r["p50 ms"] for r in rs)[len(rs) // 2]

    (w_rate, w_p50), (s_rate, s_p50) = summary(results[False]), summary(results[True])
    print(f"  without a shadow : {w_rate:6.1f} orders/s   p50 {w_p50:6.1f} ms   ({rounds} rounds of {per_round} orders, 4 clients)")
    print(f"  with a shadow    : {s_rate:6.1f} orders/s   p50 {s_p50:6.1f} ms   ({carried} decisions carry a shadow's outcome)")
    print(f"  with / without   : {s_rate / w_rate:.2f}× orders/s, p50 {s_p50 - w_p50:+.1f} ms")


PROGRAM = """ruleset: bench_volume
kind: rebate
rebate:
  title: Bench quarterly volume
  measure: net_delivered_amount
  period: quarter
  eligible: 'dealer.level == 1'
  basis: retroactive
  brackets: [{from: 0, rate: 0%}, {from: 1000, rate: 1%}, {from: 5000, rate: 2%}]
  settlement:
    confirm_within: 7d
    disputes: {role: finance, sla: 1d}
    approval: {role: finance, sla: 1d}
"""


def bench_rebate(bench: BenchStack, dealers: int) -> None:
    sessions = make_sessionmaker(make_engine(bench.settings.database_url))
    rng = random.Random(3)
    at = datetime.combine(date(2025, 5, 10), dtime(10), accounts.CHINA)
    with sessions.begin() as s:
        product = s.execute(insert(Product).values(sku="REB-DOOR", name="Rebate door", category="door",
                                                   unit_price=Decimal("100.00")).returning(Product.id)).scalar_one()
        ids = s.execute(insert(Dealer).returning(Dealer.id), [
            dict(code=f"R{i:05d}", name=f"Rebate dealer {i}", region=rng.choice(["east", "west"]), level=1, tier="normal",
                 credit_limit=Decimal("1000000.00"), outstanding=Decimal("0"), rating="A", overdue_days=0)
            for i in range(dealers)]).scalars().all()
        orders, lines, entries = [], [], []
        for dealer_id in ids:
            qty = rng.randrange(1, 120)
            oid = uuid.uuid4()
            orders.append(dict(id=oid, dealer_id=dealer_id, status="delivered", amount=Decimal(qty * 100),
                               workflow_id=f"order-{oid}", created_at=at, updated_at=at, shipped_at=at, delivered_at=at))
            lines.append(dict(order_id=oid, line_no=1, product_id=product, sku="REB-DOOR", quantity=qty,
                              unit_price=Decimal("100.00"), amount=Decimal(qty * 100)))
            entries.append(accounts.entry(dealer_id=dealer_id, kind="delivery", amount=Decimal(qty * 100),
                                          value_date=at.date(), source_type="order", source_id=str(oid)))
        s.execute(insert(Order), orders)
        s.execute(insert(OrderLine), lines)
        accounts.book(s, entries)
        rulebook.deploy(s, filename="rules/rebates/bench_volume.yaml", text=PROGRAM, actor="bench")
    with sessions.begin() as s:
        t = time.perf_counter()
        result = settlement.freeze(s, SettlementInput("bench_volume:2025-Q2", "bench_volume", "2025-Q2", "2025-Q2", "bench"),
                                   now=datetime(2025, 7, 2, tzinfo=timezone.utc))
        frozen = time.perf_counter() - t
    candidate = compile_rule_file(load_rule_file("rules/rebates/bench_volume.yaml", PROGRAM.replace(
        "{from: 1000, rate: 1%}", "{from: 1000, rate: 1.5%}").replace("dealer.level == 1", 'dealer.region == "east"')), 0)
    with sessions() as s:
        t = time.perf_counter()
        out = rebate_replay.replay(s, candidate, Window(), 20)
        wall = time.perf_counter() - t
    print(f"  settled 2025-Q2 for {dealers:,} dealers ({result.statements} statements, rebate {result.rebate_total}) "
          f"in {frozen:.2f} s")
    print(f"  replay of a changed program over it: {wall:.2f} s   ({out.totals['replayed']:,} replayed, "
          f"difference {out.totals['difference']}, {out.totals['leaving']} leaving, {out.totals['entering']} entering)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--parts", default="replay,shadow,rebate")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"rule governance ({os.cpu_count()} cores, scale {args.scale})")
    with BenchStack(f"bench-gov-{uuid.uuid4().hex[:6]}") as bench:
        if "replay" in parts:
            print(f"replay of stored credit decisions")
            bench_replay(bench, max(1000, int(1_000_000 * args.scale)))
        if "rebate" in parts:
            print("rebate replay over a settled quarter")
            bench_rebate(bench, max(50, int(1000 * args.scale)))
        if "shadow" in parts:
            print("shadow cost on order placement over HTTP (API + worker + Temporal + PostgreSQL)")
            bench_shadow(bench, max(40, int(300 * args.scale)))


if __name__ == "__main__":
    main()
