"""Scan ingest with diversion detection against 10,000,000 registered product codes, on the embedded
PostgreSQL and Temporal dev server, with a real worker process running the cases' workflows.

Scans go through the code path of `POST /api/v1/scans` after the body is decoded: an in-process call
of api.diversion.temporal.record_scans (check the rows, COPY them to a staging table, one statement that
records the new scans and finds their alerts, a few that file the alerts into cases, commit, then
start the new cases' workflows), from several batches in flight at once. Printed, all measured in
this run:
- registering the codes (generated in the database, batch by batch) and binding them to dealers;
- a raw COPY of the same scan rows into the same table (`scans`), the baseline;
- sustained scans per second with detection (target ≥ 20,000/s) and the ratio to the COPY (≥ 0.3×);
- per batch that opened a case: the time from the call (the POST) to the case committed (p50, p99:
  target p99 < 5 s), and to its investigation task opened by its workflow;
- the alerts and cases found, against what the generated data holds; CPU by process.

    .venv/bin/python bench/scans.py [--codes 10000000] [--scans 1000000] [--batch 5000] [--inflight 3] [--keep]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.diversion.temporal import record_scans  # noqa: E402
from dealerflow.diversion import codes  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.temporal import connect  # noqa: E402
from harness import BenchStack, wait_until  # noqa: E402
from order_placement import cpu_seconds, percentile  # noqa: E402
from policy_rollout import log  # noqa: E402

REGIONS = ["east", "south", "north", "central", "southwest", "northwest"]
DEALERS, PRODUCTS = 1000, 20
# Dealers whose goods surface in another region (and under the guide price), one more every
# n/DIVERTERS scans: about two new cases a second during the run, far more than a real network sees.
DIVERTERS = 50
OUT_OF_REGION, UNDER_PRICE, UNKNOWN = 0.005, 0.003, 0.001  # shares of the scans


def make_master_data(engine) -> None:
    with engine.begin() as c:
        c.execute(text("""insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating,
                                               overdue_days, tags, channel)
                          select 'S' || lpad(i::text, 5, '0'), 'Scan bench dealer ' || i,
                                 (array['east','south','north','central','southwest','northwest'])[1 + i % 6],
                                 1, 'normal', 100000, 0, 'A', 0, '{}', 'retail' from generate_series(1, :n) i"""),
                  {"n": DEALERS})
        c.execute(text("""insert into products (sku, name, category, unit_price, guide_price)
                          select 'SCAN-' || i, 'Scan bench product ' || i, 'door', 600 + i * 10, 1000 + i * 20
                          from generate_series(1, :n) i"""), {"n": PRODUCTS})


def register_and_bind(sessions, engine, total: int) -> tuple[float, float]:
    """`total` codes in PRODUCTS batches, each bound in ranges to the dealers that ship them."""
    per_batch = total // PRODUCTS
    started = time.perf_counter()
    for p in range(PRODUCTS):
        with sessions.begin() as s:
            codes.register(s, sku=f"SCAN-{p + 1}", batch_no=f"SB{p + 1:03d}", count=per_batch, actor="bench")
        log(f"  batch {p + 1}/{PRODUCTS} registered")
    registered = time.perf_counter() - started
    dealer_codes = [f"S{i:05d}" for i in range(1, DEALERS + 1)]
    ranges = DEALERS // PRODUCTS  # each batch shipped by a slice of the dealers
    step = per_batch // ranges
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    for p in range(PRODUCTS):
        for k in range(ranges):
            with sessions.begin() as s:
                codes.bind(s, actor="bench", now=now, batch_no=f"SB{p + 1:03d}", first=k * step + 1,
                           last=per_batch if k == ranges - 1 else (k + 1) * step,
                           dealer_code=dealer_codes[(p * ranges + k) % DEALERS])
        log(f"  batch {p + 1}/{PRODUCTS} bound")
    bound = time.perf_counter() - started
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("vacuum analyze product_codes"))
    return registered, bound


def make_scans(engine, n: int, total: int, seed: int = 7) -> tuple[list[dict], dict]:
    """`n` scans of codes sampled across the whole table: most in their region at a normal price; a
    few diverted (from DIVERTERS dealers, into one other region each), under the guide price, or of
    codes that were never registered."""
    rng = random.Random(seed)
    with engine.connect() as c:
        sample = c.execute(text("""select c.code, c.region, c.dealer_id, p.guide_price
                                   from product_codes c tablesample bernoulli(:pct) repeatable (7)
                                   join products p on p.id = c.product_id"""),
                           {"pct": min(100.0, 100.0 * min(n, 1_000_000) / total)}).all()
    of_dealer: dict[int, list] = {}
    for row in sample:
        of_dealer.setdefault(row.dealer_id, []).append(row)
    diverters = sorted(of_dealer)[::DEALERS // DIVERTERS]
    at, spacing = datetime.now(timezone.utc) - timedelta(hours=1), timedelta(minutes=50) / n  # all in the past
    expected = {"out_of_region": 0, "price": 0, "unknown_code": 0}
    rows = []
    for i in range(n):
        roll = rng.random()
        # Diversion spreads: the scans so far come from the first diverters only, so cases keep opening.
        by_dealer = of_dealer[diverters[rng.randrange(1 + i * len(diverters) // n)]]
        if roll < OUT_OF_REGION:
            row = rng.choice(by_dealer)
            region = REGIONS[(REGIONS.index(row.region) + 1 + row.dealer_id % 5) % 6]
            price, code = None, row.code
            expected["out_of_region"] += 1
        elif roll < OUT_OF_REGION + UNDER_PRICE:
            row = rng.choice(by_dealer)
            region, code, price = row.region, row.code, f"{row.guide_price * 6 / 10:.2f}"
            expected["price"] += 1
        elif roll < OUT_OF_REGION + UNDER_PRICE + UNKNOWN:
            region, code, price = rng.choice(REGIONS), f"FAKE-{rng.getrandbits(40):010x}", None
            expected["unknown_code"] += 1
        else:
            row = rng.choice(sample)
            region, code = row.region, row.code
            price = f"{row.guide_price * rng.randint(85, 100) / 100:.2f}" if rng.random() < 0.3 else None
        scan = {"scan_id": f"{i:08d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}", "code": code, "region": region,
                "scanned_at": (at + spacing * i).isoformat(), "kind": ("store", "consumer")[i % 2]}
        if price is not None:
            scan["price"] = price
        rows.append(scan)
    return rows, expected


def raw_copy(engine, rows: list[dict], chunk: int = 50_000) -> float:
    """The same rows COPYed straight into `scans`: no checks, no detection."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            for i in range(0, len(rows), chunk):
                cur.copy_expert("copy scans (scan_id, code, region, price, scanned_at, kind) from stdin",
                                _tsv(rows[i:i + chunk]))
                raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _tsv(rows: list[dict]) -> io.StringIO:
    null = "\\N"
    return io.StringIO("".join(f"{r['scan_id']}\t{r['code']}\t{r['region']}\t{r.get('price', null)}\t"
                               f"{r['scanned_at']}\t{r['kind']}\n" for r in rows))


class TaskWatcher(threading.Thread):
    """Notes when each case's investigation task appears (its workflow has assessed it)."""

    def __init__(self, engine):
        super().__init__(daemon=True)
        self.engine, self.seen, self.stopped = engine, {}, threading.Event()

    def run(self) -> None:
        q = text("select subject_id from human_tasks where kind = 'diversion_investigation'")
        while not self.stopped.wait(0.05):
            with self.engine.connect() as c:
                now = time.perf_counter()
                for (case_id,) in c.execute(q):
                    self.seen.setdefault(int(case_id), now)


async def ingest(settings, sessions, rows: list[dict], batch: int, inflight: int) -> dict:
    client = await connect(settings)
    batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    pending = iter(batches)
    opened: list[tuple[float, float, list[int]]] = []  # (posted, committed, case ids) of batches that opened cases
    totals = {"accepted": 0, "duplicates": 0, "alerts": 0, "invalid": 0}

    async def sender() -> None:
        for chunk in pending:
            posted = time.perf_counter()
            result = await record_scans(client=client, task_queue=settings.task_queue, sessions=sessions, rows=chunk)
            done = time.perf_counter()
            for key in totals:
                totals[key] += len(result.invalid) if key == "invalid" else getattr(result, key)
            if result.cases:
                opened.append((posted, done, [c.case_id for c in result.cases]))

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(inflight)))
    return {"wall": time.perf_counter() - started, "opened": opened, **totals}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=10_000_000)
    parser.add_argument("--scans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--inflight", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the data directory (logs) afterwards")
    args = parser.parse_args()
    with BenchStack("bench-scans", keep=args.keep) as bench:
        settings, stack = bench.settings, bench.stack
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        make_master_data(engine)
        log(f"registering {args.codes:,} codes in {PRODUCTS} batches and binding them to {DEALERS} dealers")
        registered_s, bound_s = register_and_bind(sessions, engine, args.codes)
        log(f"generating {args.scans:,} scans")
        rows, expected = make_scans(engine, args.scans, args.codes)

        worker = bench.worker()  # started now: polling, idle, before the clocks run
        log("raw COPY of the same rows")
        copy_s = raw_copy(engine, rows)
        with engine.begin() as c:
            c.execute(text("truncate scans"))
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("vacuum analyze scans"))

        watcher = TaskWatcher(engine)
        watcher.start()
        log(f"ingesting with detection: batches of {args.batch}, {args.inflight} in flight")
        # This process started the servers and the worker: its own CPU is counted apart from theirs.
        parts = {"postgres": [stack.postgres._server.get_pid()], "worker": [worker.pid],
                 "temporal": [stack.temporal.proc.pid]}
        before, own = cpu_seconds(parts), time.process_time()
        run = asyncio.run(ingest(settings, sessions, rows, args.batch, args.inflight))
        after, own = cpu_seconds(parts), time.process_time() - own
        wanted = {case_id for _, _, ids in run["opened"] for case_id in ids}
        wait_until(lambda: wanted <= watcher.seen.keys(), 120, 0.2)  # the rest are reported as missing
        watcher.stopped.set()

        with engine.connect() as c:
            stored = c.execute(text("select count(*) from scans")).scalar_one()
            found = dict(c.execute(text("select trigger, count(*) from diversion_alerts group by trigger")).all())
            cases = c.execute(text("select count(*) from diversion_cases")).scalar_one()
            plan = "\n".join(r[0] for r in c.execute(text(
                "explain select c.dealer_id, c.region from scans s join product_codes c on c.code = s.code "
                "where s.scan_id < '00000100'")))
        to_case = [done - posted for posted, done, _ in run["opened"]]
        to_task = [watcher.seen[i] - posted for posted, _, ids in run["opened"] for i in ids if i in watcher.seen]
        rate, copy_rate = len(rows) / run["wall"], len(rows) / copy_s

        print(f"\nscan ingest with detection, {args.codes:,} codes, {len(rows):,} scans "
              f"(in-process call of the API's code path: record_scans, batches of {args.batch}, "
              f"{args.inflight} in flight)")
        print(f"  codes registered (generated in SQL)      {args.codes / registered_s:12,.0f} codes/s  "
              f"({registered_s:.1f} s)")
        print(f"  codes bound to dealers (ranges)          {args.codes / bound_s:12,.0f} codes/s  ({bound_s:.1f} s)")
        print(f"  raw COPY into scans (baseline)           {copy_rate:12,.0f} scans/s  ({copy_s:.1f} s)")
        print(f"  ingest with detection                    {rate:12,.0f} scans/s  ({run['wall']:.1f} s; "
              f"target >= 20,000/s)")
        print(f"  ingest / raw COPY                        {rate / copy_rate:12.2f} x        (target >= 0.3x)")
        print(f"  POST -> case committed, p50 / p99        {percentile(to_case, 50):8.3f} / "
              f"{percentile(to_case, 99):.3f} s"
              f"  ({len(to_case)} batches opened cases; target p99 < 5 s)")
        if to_task:
            print(f"  POST -> investigation task, p50 / p99    {percentile(to_task, 50):8.3f} / "
                  f"{percentile(to_task, 99):.3f} s  ({len(to_task)} of {len(wanted)} cases)")
        print(f"  scans stored {stored:,} (accepted {run['accepted']:,}, duplicates {run['duplicates']}, invalid "
              f"{run['invalid']}); alerts {dict(sorted(found.items()))} for {expected} generated; cases {cases}")
        print(f"  CPU during the ingest: ingest (this process) {own:.1f} s, "
              + ", ".join(f"{k} {after[k] - before[k]:.1f} s" for k in parts)
              + f" ({os.cpu_count()} cores, {run['wall']:.1f} s)")
        print("  a scan's code lookup: " + next((line.strip(" ->") for line in plan.splitlines()
                                                 if "product_codes" in line), "?"))
        engine.dispose()


if __name__ == "__main__":
    main()
