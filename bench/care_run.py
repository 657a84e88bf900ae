"""The daily care run for 10,000 dealers, on the embedded PostgreSQL and Temporal dev server with the
product's worker process and the shipped rules/service.yaml: every dealer has a contact birthday and a
cooperation start spread over the year and an account manager, so each day greets ~1/365 of them and
tells their managers of tomorrow's, and the contact cadence opens tasks.

Printed, all measured in this run: the first day (which opens every dealer's first contact task) and a
month of days after it, each through CareDailyWorkflow on the worker — per day and in total; the same
day run again (nothing given twice); the offers beyond points (credits booked on the account, rebate
extras); the worker's peak memory.

    .venv/bin/python bench/care_run.py [--dealers 10000] [--days 30] [--scale 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.contracts import CARE_SCHEDULE, CareDayInput, CareDayResult  # noqa: E402
from dealerflow.core.db import make_engine  # noqa: E402
from dealerflow.core.temporal import connect  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import PeakRss, log  # noqa: E402
from workflows import CareDailyWorkflow  # noqa: E402


def make_dealers(engine, n: int) -> None:
    with engine.begin() as c:
        c.execute(text("""
            insert into users (username, password_hash, role, active)
            select 'am_bench_' || g, 'x', 'account_manager', true from generate_series(1, greatest(:n / 50, 1)) g"""),
                  {"n": n})
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, contact_name, contact_birthday, cooperation_since, payment_terms_days,
                                 status, account_manager)
            select 'CB' || lpad(g::text, 6, '0'), 'Bench dealer ' || g, (array['east','south','north','central'])[1 + g % 4],
                   1, (array['core','key','normal'])[1 + g % 3], 0, 0, 'A', 0, '{}', 'retail', 'Contact ' || g,
                   date '1970-01-01' + (g * 7919 % 365) + ((g % 30) * 365),
                   date '2015-01-01' + (g * 104729 % 3650), 30, 'active',
                   'am_bench_' || (1 + g % greatest(:n / 50, 1))
            from generate_series(1, :n) g"""), {"n": n})


async def run_days(settings, first: date, days: int) -> list[tuple[float, CareDayResult]]:
    client = await connect(settings)
    await client.get_schedule_handle(CARE_SCHEDULE).pause(note="benchmark runs its own days")
    out = []
    for k in range(days):
        day = first + timedelta(days=k)
        started = time.perf_counter()
        result = await client.execute_workflow(CareDailyWorkflow.run, CareDayInput(day.isoformat()),
                                               id=f"bench-care-{day}-{uuid.uuid4().hex[:6]}",
                                               task_queue=settings.task_queue, result_type=CareDayResult)
        out.append((time.perf_counter() - started, result))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dealers", type=int, default=10_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--scale", type=float, default=1.0)
    args = p.parse_args()
    n = max(10, int(args.dealers * args.scale))
    with BenchStack("bench-care") as bench:
        engine = make_engine(bench.settings.database_url)
        worker = bench.worker()
        rss = PeakRss(worker.pid)
        rss.start()
        log(f"{n} dealers")
        make_dealers(engine, n)
        first = date(2027, 3, 1)
        log(f"{args.days} days of care from {first}")
        days = asyncio.run(run_days(bench.settings, first, args.days))
        again = asyncio.run(run_days(bench.settings, first + timedelta(days=1), 1))
        rss.stopped.set()
        (t0, r0), rest = days[0], days[1:]
        print(f"first day {r0.day} over {n} dealers: {t0:.2f} s — {r0.greeted} greeted ({r0.points} points,"
              f" {r0.offers} credits and rebate extras, ¥{r0.credited} credited),"
              f" {r0.told_eve} managers told of tomorrow, {r0.contact_tasks} contact tasks opened")
        if rest:
            times = [t for t, _ in rest]
            print(f"next {len(rest)} days: {sum(times):.2f} s in total, median {statistics.median(times):.2f} s,"
                  f" max {max(times):.2f} s a day; {sum(r.greeted for _, r in rest)} greeted,"
                  f" {sum(r.contact_tasks for _, r in rest)} contact tasks, {sum(r.offers for _, r in rest)} credits and"
                  f" rebate extras")
        t, r = again[0]
        print(f"a day run again: {t:.2f} s, {r.greeted} greeted (nothing twice)")
        print(f"total for {args.days} days: {sum(t for t, _ in days):.2f} s")
        print(f"worker peak RSS: {rss.peak / 2**20:.0f} MiB")
        engine.dispose()


if __name__ == "__main__":
    main()
