"""The daily inventory health run for 10,000 dealers × 200 skus (2,000,000 dealer × sku pairs) with a
year of history, on the embedded PostgreSQL and Temporal dev server, with the product's worker and
API processes, through the shipped rules/inventory.yaml.

History per pair (generated inside PostgreSQL): sell-through every four weeks over the year (13 rows a
pair), a current stock report (four in five within the last week, the rest a month old, so they are
estimated), and monthly deliveries of a tenth of the skus per dealer. Shaped so that some pairs are
overstocked, some near stock-out, most healthy.

Printed, all measured in this run:
- a plain GROUP BY of the same history (sell-through and delivered lines per dealer × sku), for scale;
- the health statement over every dealer at once, then as the run makes it: the dealers in SLICES
  measured at once, each slice's sell-through summed and every pair's figures written in one
  INSERT … SELECT on its own connection; each with its ratio to the GROUP BY;
- the advice step (rules once per pair that crosses a threshold, the slices at once) through the worker;
- the whole run over HTTP: start → figures and advice written (the advice step commits them with
  its tasks), start → closed, when each of the workflow's steps was done (from its history), and the
  worker's peak RSS (with the processes the slices advise in).

The history is vacuumed, analysed and checkpointed once loaded, and the figures the in-process
measurements rolled back are vacuumed away (and checkpointed) before the run over HTTP: a daily run
meets tables autovacuum keeps, long since written out, not a bulk load's first vacuum, a bench's own
dead rows, or the writing out of either. The WAL the run writes and the checkpoints it meets are
printed with it, and what the machine spent: its CPU split and the memory pages the kernel handed
out (system time includes handing them out: on a virtual machine whose balloon takes freed memory
back, memory used again is backed anew).

    .venv/bin/python bench/inventory_health.py [--scale 1.0]   # 0.1: 1,000 dealers × 200 skus
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import httpx
import psutil
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.contracts.inventory import day_of  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.core.temporal import connect  # noqa: E402
from dealerflow.inventory import advice as inventory, health  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import PeakRss, log, timeline  # noqa: E402

REGIONS = ("east", "south", "north", "central", "southwest", "northeast")
SKUS = 200


def make_data(engine, dealers: int, day: date) -> None:
    pw = hash_password("bench-password")
    with engine.begin() as c:
        c.execute(text("select setseed(0.23)"))
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, account_manager)
            select 'I' || lpad(i::text, 6, '0'), 'Bench dealer ' || i, (cast(:regions as text[]))[1 + i % 6], 1,
                   'normal', 1000000, 0, 'A', 0, '{}', 'retail', 'am_inv_' || (i % 6) || '_' || ((i / 6) % 8)
            from generate_series(1, :n) i"""), {"n": dealers, "regions": list(REGIONS)})
        c.execute(text("""insert into users (username, password_hash, role)
                          select distinct account_manager, :pw, 'account_manager' from dealers
                          union all select 'bench_hq', :pw, 'hq'"""), {"pw": pw})
        c.execute(text("""insert into products (sku, name, category, unit_price, pack_size)
                          select 'INV-' || i, 'Bench product ' || i, (array['door','window','cabinet'])[1 + i % 3],
                                 (200 + i * 37 % 3000)::numeric(14, 2), (array[1, 6, 12, 24])[1 + i % 4]
                          from generate_series(1, :s) i"""), {"s": SKUS})
    with engine.begin() as c:  # sell-through: every 4 weeks over the year; a pair's rate from its hash
        c.execute(text("""
            create temporary table pairs as
            select d.id as dealer_id, p.id as product_id, ((d.id * 7919 + p.id * 104729) % 100) as h
            from dealers d cross join products p where p.sku like 'INV-%'"""))
        c.execute(text("""
            insert into sell_through (dealer_id, product_id, day, source, quantity, reported_by)
            select dealer_id, product_id, cast(:day as date) - 7 - 28 * k, 'feed',
                   case when h < 5 then 0 else (h % 30) + 1 end * 28 / 10, 'bench'
            from pairs cross join generate_series(0, 12) k"""), {"day": day})
        # Stock: most pairs around a month of sales; 1 in 20 overstocked (never sells), 1 in 10 near out.
        c.execute(text("""
            insert into stock_reports (dealer_id, product_id, day, on_hand, in_transit, reported_at, source,
                                       reported_by)
            select dealer_id, product_id, cast(:day as date) - case when h % 5 = 0 then 30 else h % 7 end,
                   case when h < 5 then 200 + h when h % 10 = 3 then 1 when h % 5 = 0 then ((h % 30) + 1) * 6
                        else ((h % 30) + 1) * 3 end, 0,
                   now() - interval '1 day', 'api', 'bench'
            from pairs"""), {"day": day})
    with engine.begin() as c:  # deliveries: monthly, a tenth of the skus per dealer
        c.execute(text("""
            create temporary table bench_orders as
            select gen_random_uuid() as id, d.id as dealer_id, m,
                   (cast(:day as date) - 30 * m + 10)::timestamp at time zone 'Asia/Shanghai' as at
            from dealers d cross join generate_series(0, 11) m"""), {"day": day})
        c.execute(text("""insert into orders (id, dealer_id, status, amount, workflow_id, created_at, updated_at,
                                              shipped_at, delivered_at)
                          select id, dealer_id, 'delivered', 0, 'bench', at - interval '3 days', at, at, at
                          from bench_orders where at < now()"""))
        c.execute(text("""
            insert into order_lines (order_id, line_no, product_id, sku, quantity, unit_price, amount)
            select o.id, row_number() over (partition by o.id order by p.id), p.id, p.sku, 5 + (p.id + o.m) % 20,
                   p.unit_price, p.unit_price * (5 + (p.id + o.m) % 20)
            from bench_orders o join products p on p.sku like 'INV-%' and (p.id + o.dealer_id + o.m) % 10 = 0
            where o.at < now()"""))
    vacuum(engine)


def vacuum(engine, table: str = "") -> None:
    """VACUUM ANALYZE (a table, or the database) and a CHECKPOINT, as a daily run finds its tables:
    vacuumed by autovacuum and long since written out. Otherwise a bulk load's first vacuum, the dead
    rows of the measurements rolled back here, or writing out the pages either dirtied would fall
    into the run measured."""
    with engine.connect() as c:
        c = c.execution_options(isolation_level="AUTOCOMMIT")
        c.execute(text(f"vacuum analyze {table}"))
        c.execute(text("checkpoint"))


def machine() -> tuple:
    """The machine's CPU times so far, and the memory pages the kernel has handed out (Linux)."""
    try:
        with open("/proc/vmstat") as f:
            pages = sum(int(v) for k, v in (line.split() for line in f) if k.startswith("pgalloc_"))
    except OSError:
        pages = 0
    return psutil.cpu_times(), pages


def wal_and_checkpoints(engine) -> tuple[int, int]:
    """WAL bytes written and checkpoints begun so far, to show what a span wrote."""
    with engine.connect() as c:
        return tuple(c.execute(text("select (select wal_bytes from pg_stat_wal),"
                                    " (select num_timed + num_requested from pg_stat_checkpointer)")).one())


def measure_slices(sessions, day: date, spec, slices: int) -> int:
    """The run's statement for each slice at once, each on its own connection, rolled back."""
    counts = [0] * slices

    def one(n: int) -> None:
        with sessions() as s:
            counts[n] = health.compute(s, day=day, region=None, average_over_days=spec.average_over_days,
                                       slow_over=spec.overstock_floor, slice=n, slices=slices)
            s.rollback()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(slices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


async def run_over_http(settings, engine, day: str) -> dict:
    hq = {"Authorization": f"Bearer {issue_token(username='bench_hq', role='hq', secret=settings.secret_key, minutes=120)}"}
    out = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as api:
        started = time.perf_counter()
        r = await api.post("/api/v1/inventory/runs", json={"day": day}, headers=hq)
        assert r.status_code == 202 and r.json()["action"] == "started", r.text

        def stage():
            with engine.connect() as c:
                return c.execute(text("select stage, finished_at from inventory_runs where day = :d and scope = '*'"),
                                 {"d": date.fromisoformat(day)}).first()
        # The run's stage leaves "measuring" only when the advice step commits (figures, advice, tasks
        # and notifications together), so this span holds both steps.
        while (row := stage()) is None or row.stage == "measuring":
            await asyncio.sleep(0.1)
        out["advised s"] = time.perf_counter() - started
        while (row := stage()).finished_at is None:
            await asyncio.sleep(0.1)
        out["total s"] = time.perf_counter() - started
    out["steps"] = await step_ends(settings, r.json()["workflow_id"])
    with engine.connect() as c:
        out["totals"] = c.execute(text("select totals from inventory_runs where day = :d"),
                                  {"d": date.fromisoformat(day)}).scalar_one()
        out["tasks"] = c.execute(text("select count(*) from human_tasks where kind = 'inventory_red_items'")).scalar_one()
        out["by action"] = dict(c.execute(text("select action, count(*) from inventory_advice group by 1")).all())
    return out


async def step_ends(settings, workflow_id: str) -> dict[str, float]:
    """Seconds from the workflow's start to each step's last completion (its timeline)."""
    handle = (await connect(settings)).get_workflow_handle(workflow_id)
    await handle.result()  # its last steps are recorded once it ends
    return {name: last for name, (_, _, last) in (await timeline(handle)).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="share of the 10,000 dealers (× 200 skus)")
    parser.add_argument("--explain", action="store_true", help="print the health statement's plan and stop")
    args = parser.parse_args()
    dealers = max(6, int(10_000 * args.scale))
    with BenchStack("bench-inventory") as bench:  # deploys the shipped rules/inventory.yaml
        settings = bench.settings
        engine = make_engine(settings.database_url)
        day = day_of(datetime.now(timezone.utc), days_back=1)
        log(f"generating {dealers:,} dealers × {SKUS} skus with a year of history")
        t, _ = timed(lambda: make_data(engine, dealers, date.fromisoformat(day)))
        log(f"  {t:.1f}s")
        with engine.begin() as c:  # the same memory for the GROUP BY as the health statement gets
            c.execute(text(f"set local work_mem = '{health.WORK_MEM}'"))
            rows = c.execute(text("select (select count(*) from sell_through), (select count(*) from order_lines),"
                                  " (select count(*) from stock_reports)")).one()
            baseline, groups = timed(lambda: c.execute(text(
                "select count(*) from (select dealer_id, product_id, sum(quantity) from sell_through group by 1, 2"
                " union all select o.dealer_id, l.product_id, sum(l.quantity) from order_lines l"
                " join orders o on o.id = l.order_id where o.delivered_at is not null group by 1, 2) x")).scalar_one())
        sessions = make_sessionmaker(engine)
        if args.explain:
            with sessions() as s:
                _, spec = inventory.ruleset(s)
                params = health.parameters(day=date.fromisoformat(day), region=None,
                                           average_over_days=spec.average_over_days, slow_over=spec.overstock_floor)
                health.prepare(s, params)
                for (line,) in s.execute(text("explain (analyze, buffers off) " + health.statement(None).text), params):
                    print(line)
                s.rollback()
            return
        # The run's own statements, in this process, rolled back: their time alone.
        with sessions() as s:
            _, spec = inventory.ruleset(s)
        whole_s, pairs = timed(lambda: measure_slices(sessions, date.fromisoformat(day), spec, 1))
        figures_s, sliced = timed(lambda: measure_slices(sessions, date.fromisoformat(day), spec, inventory.SLICES))
        assert sliced == pairs, (sliced, pairs)

        vacuum(engine, "inventory_health")
        worker = bench.worker()
        bench.api()
        peak = PeakRss(worker.pid)
        peak.start()
        wal_before, machine_before = wal_and_checkpoints(engine), machine()
        out = asyncio.run(run_over_http(settings, engine, day))
        wal_after, machine_after = wal_and_checkpoints(engine), machine()
        peak.stopped.set()

        print(f"\ninventory health of {dealers:,} dealers × {SKUS} skus = {pairs:,} pairs on {day}; history: "
              f"{rows[0]:,} sell-through rows, {rows[1]:,} delivered lines, {rows[2]:,} stock reports")
        print(f"  plain GROUP BY of the same history            {baseline:8.3f} s   ({groups:,} groups)")
        print(f"  health of every pair, one statement            {whole_s:8.3f} s   "
              f"= {whole_s / baseline:.2f}× the GROUP BY")
        print(f"  health of every pair, {inventory.SLICES} slices at once         {figures_s:8.3f} s   "
              f"= {figures_s / baseline:.2f}× the GROUP BY (as the run makes it)")
        print(f"  run over HTTP: start → figures and advice      {out['advised s']:8.3f} s   "
              f"(of which the slowest slice's statement in the worker: {out['totals'].get('measure_seconds', 0):.3f} s)")
        print(f"  run over HTTP: start → advised, tasks, closed {out['total s']:8.3f} s")
        ends = out["steps"]
        print("  the workflow's steps, done at (s from its start): " + ", ".join(
            f"{label} {ends[step]:.1f}" for step, label in (
                ("measure_inventory", "figures"), ("advise_inventory", "advice"),
                ("conclude_inventory_advice", "tasks and notifications"), ("close_inventory_run", "close"))
            if step in ends))
        print(f"  advice {out['totals'].get('advice', 0):,} {out['by action']}; red items "
              f"{out['totals'].get('red', 0):,}; tasks {out['tasks']} (one per account manager)")
        print(f"  worker peak RSS, with its adviser processes   {peak.peak / 2**20:8.0f} MB")
        print(f"  during the run: WAL written {(wal_after[0] - wal_before[0]) / 2**20:8.0f} MB, "
              f"checkpoints begun {wal_after[1] - wal_before[1]}")
        cpu = {k: getattr(machine_after[0], k, 0) - getattr(machine_before[0], k, 0)
               for k in ("user", "system", "steal", "idle", "iowait")}
        print(f"  the machine during the run: CPU s user {cpu['user']:.1f}, system {cpu['system']:.1f}, "
              f"stolen {cpu['steal']:.1f}, idle {cpu['idle']:.1f}, waiting on I/O {cpu['iowait']:.1f}; "
              f"memory handed out {(machine_after[1] - machine_before[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20:,.0f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
