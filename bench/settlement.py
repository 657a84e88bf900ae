"""Settling one quarter for 1,000 dealers over 1,000,000 delivered order lines on the embedded
PostgreSQL and Temporal dev server, with a real worker process.

Printed, all measured in this run:
- a plain SQL GROUP BY of the same lines (sum per dealer), the baseline;
- the accrual computation (the run's own code: figures aggregated in the database, the ladder
  evaluated through the rule engine once per dealer) and its ratio to the baseline (target ≤ 5×);
- the time from the run's start until statements are issued for every dealer (target ≤ 30 s);
- dealers confirming over HTTP, finance approving, posting every rebate, closing;
- the worker's peak memory (target < 500 MB).

    .venv/bin/python bench/settlement.py [--dealers 1000] [--lines 1000000]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.rebates import programs as rebates
from dealerflow.shared import rulebook  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.core.config import Settings  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import PeakRss, log  # noqa: E402

PROGRAM = """ruleset: bench_quarterly
kind: rebate
rebate:
  title: Bench quarterly volume rebate
  measure: net_delivered_amount
  period: quarter
  eligible: dealer.region == "bench"
  basis: incremental
  brackets: [{from: 0, rate: 0.5%}, {from: 500000, rate: 1%}, {from: 1000000, rate: 2%}, {from: 2000000, rate: 3%}]
  extras: {growth: {over: 20%, rate: 0.5%}, anniversary: {years: [3, 5, 10], rate: 3%}}
  settlement:
    confirm_within: 1h
    disputes: {role: finance, sla: 1d}
    approval: {role: finance, sla: 1d}
"""
PERIOD, QUARTER_START, PRIOR_START = "2026-Q2", date(2026, 4, 1), date(2025, 4, 1)


def make_data(engine, dealers: int, lines: int) -> None:
    """Dealers, products, orders of five lines each delivered over the quarter (and a tenth as many a
    year earlier, for growth), with their ledger entries; generated inside PostgreSQL."""
    orders = lines // 5
    pw = hash_password("bench-password")
    with engine.begin() as c:
        c.execute(text("select setseed(0.42)"))
        c.execute(text("""insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating,
                          overdue_days, tags, channel, created_at)
                          select 'B' || lpad(i::text, 5, '0'), 'Bench dealer ' || i, 'bench', 1, 'core', 1000000, 0,
                                 'A', 0, '{}', 'retail', timestamptz '2016-01-01' + (i % 3650) * interval '1 day'
                          from generate_series(1, :n) i"""), {"n": dealers})
        c.execute(text("""insert into users (username, password_hash, role, dealer_id)
                          select lower(code), :pw, 'dealer', id from dealers where region = 'bench'"""), {"pw": pw})
        c.execute(text("insert into users (username, password_hash, role) values ('bench_finance', :pw, 'finance')"),
                  {"pw": pw})
        c.execute(text("""insert into products (sku, name, category, unit_price)
                          select 'BENCH-' || i, 'Bench product ' || i, (array['door','window','cabinet'])[1 + i % 3],
                                 (500 + i * 37 % 3000)::numeric(14, 2) from generate_series(1, 50) i"""))
        c.execute(text("""create temporary table bench_orders on commit drop as
                          select gen_random_uuid() as id, d.id as dealer_id,
                                 case when g % 10 = 0 then timestamptz '2025-04-01 02:00+00' else timestamptz '2026-04-01 02:00+00' end
                                   + (random() * 90) * interval '1 day' as at
                          from generate_series(1, :orders) g
                          join (select id, row_number() over (order by id) - 1 as k from dealers where region = 'bench') d
                            on d.k = (g * 7919) % :dealers"""), {"orders": orders, "dealers": dealers})
        c.execute(text("""create temporary table bench_lines on commit drop as
                          select o.id as order_id, l as line_no, p.id as product_id, p.sku, r.q as quantity,
                                 p.unit_price, p.unit_price * r.q as amount
                          from bench_orders o cross join generate_series(1, 5) l
                          cross join lateral (select 1 + (random() * 9)::int as q,
                                                     1 + (random() * 49)::int as pk, l as anchor) r
                          join products p on p.sku = 'BENCH-' || r.pk"""))
        c.execute(text("""insert into orders (id, dealer_id, status, amount, workflow_id, created_at, updated_at,
                                              shipped_at, delivered_at)
                          select o.id, o.dealer_id, 'delivered', s.amount, 'order-' || o.id, o.at, o.at, o.at, o.at
                          from bench_orders o join (select order_id, sum(amount) as amount from bench_lines
                                                    group by order_id) s on s.order_id = o.id"""))
        c.execute(text("""insert into order_lines (order_id, line_no, product_id, sku, quantity, unit_price, amount)
                          select order_id, line_no, product_id, sku, quantity, unit_price, amount from bench_lines"""))
        c.execute(text("""insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
                          select o.dealer_id, 'delivery', o.amount,
                                 ((o.delivered_at at time zone 'UTC') + interval '8 hours')::date, 'order', o.id::text, ''
                          from orders o join bench_orders b on b.id = o.id"""))
    with engine.connect() as c:
        c.execute(text("analyze"))
        c.commit()


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = None, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, result


async def settle(settings: Settings, engine, dealers: int) -> dict:
    tokens = {"finance": issue_token(username="bench_finance", role="finance", secret=settings.secret_key, minutes=60)}
    out = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as api:
        fin = {"Authorization": f"Bearer {tokens['finance']}"}
        started = time.perf_counter()
        r = await api.post("/api/v1/settlements", json={"program": "bench_quarterly", "period": PERIOD}, headers=fin)
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        while (await api.get(f"/api/v1/settlements/{run_id}", headers=fin)).json().get("stage") != "awaiting_confirmation":
            await asyncio.sleep(0.05)
        out["statements issued s"] = time.perf_counter() - started
        with engine.connect() as c:
            ids = c.execute(text("select s.id, lower(d.code) from statements s join dealers d on d.id = s.dealer_id "
                                 "where s.run_id = :r"), {"r": run_id}).all()
        out["statements"] = len(ids)
        sem = asyncio.Semaphore(32)

        async def confirm(statement_id, username):
            token = issue_token(username=username, role="dealer", secret=settings.secret_key, minutes=60)
            async with sem:
                r = await api.post(f"/api/v1/statements/{statement_id}/confirm",
                                   headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text

        t = time.perf_counter()
        await asyncio.gather(*[confirm(s, u) for s, u in ids])
        out["confirmations/s over HTTP"] = len(ids) / (time.perf_counter() - t)
        t = time.perf_counter()
        task = None
        while task is None:
            tasks = (await api.get("/api/v1/tasks", headers=fin)).json()
            task = next((x for x in tasks if x["subject_id"] == run_id), None)
            await asyncio.sleep(0.05)
        out["last confirmation → approval task s"] = time.perf_counter() - t
        t = time.perf_counter()
        r = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"}, headers=fin)
        assert r.status_code == 200, r.text
        while (run := (await api.get(f"/api/v1/settlements/{run_id}", headers=fin)).json())["stage"] != "closed":
            await asyncio.sleep(0.05)
        out["approval → posted and closed s"] = time.perf_counter() - t
        out["total rebate"] = run["totals"]["rebate"]
        out["credited"] = run["totals"]["credited"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dealers", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with BenchStack("bench-settlement") as bench:
        settings = bench.settings
        engine = make_engine(settings.database_url)
        log(f"generating {args.dealers} dealers and {args.lines:,} delivered order lines")
        t = time.perf_counter()
        make_data(engine, args.dealers, args.lines)
        log(f"  {time.perf_counter() - t:.1f}s")
        sessions = make_sessionmaker(engine)
        with sessions.begin() as s:
            rulebook.deploy(s, filename="rules/rebates/bench_quarterly.yaml", text=PROGRAM, actor="bench")

        baseline_sql = text("select o.dealer_id, sum(l.amount) from order_lines l join orders o on o.id = l.order_id "
                            "group by o.dealer_id")
        with engine.connect() as c:
            lines = c.execute(text("select count(*) from order_lines")).scalar_one()
            baseline, rows = timed(lambda: c.execute(baseline_sql).all())

        def accrual():
            with sessions() as s:
                ruleset, spec = rebates.program(s, "bench_quarterly")
                figures = rebates.measures(s, spec, QUARTER_START, date(2026, 6, 30))
                from dealerflow.rebates.settlement import statement_rows
                from dealerflow.models import SettlementRun
                run = SettlementRun(id="bench", program=spec.id, period=PERIOD, upto=PERIOD, final=True,
                                    ruleset_version=ruleset.version, measure_from=QUARTER_START,
                                    span_from=QUARTER_START, span_to=date(2026, 6, 30))
                return figures, statement_rows(s, run, ruleset, spec, confirm_by=None)
        accrual_s, (figures, statement_rows_out) = timed(accrual)

        worker = bench.worker()
        bench.api()
        peak = PeakRss(worker.pid)
        peak.start()
        run = asyncio.run(settle(settings, engine, args.dealers))
        peak.stopped.set()

        print(f"\nsettlement of {PERIOD} for {len(statement_rows_out)} dealers over {lines:,} order lines")
        print(f"  plain GROUP BY of the lines (baseline)   {baseline:8.3f} s   ({len(rows)} groups)")
        print(f"  accrual computation (figures + ladder)   {accrual_s:8.3f} s   = {accrual_s / baseline:.2f}x the "
              f"GROUP BY (target <= 5x)")
        print(f"  start → statements issued for all        {run['statements issued s']:8.3f} s   "
              f"({run['statements']} statements; target <= 30 s)")
        print(f"  dealers confirming over HTTP             {run['confirmations/s over HTTP']:8.0f} /s")
        print(f"  last confirmation → approval task        {run['last confirmation → approval task s']:8.3f} s")
        print(f"  approval → every rebate posted, closed   {run['approval → posted and closed s']:8.3f} s")
        print(f"  total rebate {run['total rebate']}, credited to the accounts {run['credited']}")
        print(f"  worker peak RSS                          {peak.peak / 2**20:8.0f} MB (target < 500 MB)")
        engine.dispose()


if __name__ == "__main__":
    main()
