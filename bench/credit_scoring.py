"""Credit scoring of 10,000 dealers over two years of ledger history on the embedded PostgreSQL and
Temporal dev server, with a real worker and API process, through the shipped rules/credit_score.yaml.

Printed, all measured in this run:
- a plain GROUP BY of the ledger (balance per dealer), the baseline;
- the behavioural figures of every dealer in the database (FIFO allocation of payments to invoices,
  overdue days, DSO, overdue ratio, days paid late, trend, utilisation, history: one statement) and
  its ratio to the baseline;
- the rules once per dealer (score, rating, proposed limit), in dealers per second;
- the run over HTTP: start → every dealer scored and stored → applied, decreases told, approval
  workflows started for the increases over the threshold → closed (the total; aim < 30 s);
- the worker's peak memory (psutil).

    .venv/bin/python bench/credit_scoring.py [--scale 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.contracts.tiering import month_of  # noqa: E402
from dealerflow.core.config import Settings  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.credit import ledger_figures, runs as credit  # noqa: E402
from dealerflow.models import Dealer  # noqa: E402
from dealerflow.shared.dealer_facts import COLUMNS, facts_of  # noqa: E402
from harness import BenchStack  # noqa: E402
from policies_dsl import assess_credit  # noqa: E402
from policy_rollout import PeakRss, log  # noqa: E402

REGIONS = ("east", "south", "north", "central", "southwest", "northeast")


def make_data(engine, dealers: int, as_of) -> None:
    """Dealers with payment terms of 30 to 60 days and limits near three months of purchases; an
    invoice about every 15 days for 24 months before `as_of`; payments by behaviour: six in ten pay
    within terms, two in ten 20 to 40 days late, one in ten 60 to 100 days late, one in ten stopped
    paying five months ago; 2% of invoices partly returned; some dealers with diversion penalties.
    All generated inside PostgreSQL."""
    pw = hash_password("bench-password")
    with engine.begin() as c:
        c.execute(text("select setseed(0.29)"))
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, account_manager, payment_terms_days, cooperation_since, created_at)
            select 'K' || lpad(i::text, 6, '0'), 'Bench dealer ' || i, (cast(:regions as text[]))[1 + i % 6], 1,
                   (array['core','key','normal','normal','key','normal','normal','normal','normal','normal'])[1 + (i * 7) % 10],
                   round((5000 + (i * 37) % 50 * 1000) * 2 * (2.5 + (i % 7) * 0.2), -3), 0,
                   (array['A','B','B','C'])[1 + i % 4], 0, '{}', 'retail', 'am_bench_' || (i % 48),
                   (array[30, 30, 45, 60])[1 + i % 4], :as_of - 800, now()
            from generate_series(1, :n) i"""), {"n": dealers, "regions": list(REGIONS), "as_of": as_of})
        c.execute(text("""insert into users (username, password_hash, role)
                          select distinct account_manager, :pw, 'account_manager' from dealers
                          union all select 'bench_cm', :pw, 'credit_manager'"""), {"pw": pw})
        c.execute(text("""
            create temporary table bench_invoices on commit drop as
            select d.id as dealer_id, k, d.payment_terms_days as terms, d.id % 10 as profile,
                   cast(:as_of as date) - 720 + 15 * k + (random() * 4)::int as day,
                   round(cast((5000 + (d.id * 37) % 50 * 1000) * (0.5 + random()) as numeric), 2) as amount
            from dealers d cross join generate_series(0, 47) k where d.code like 'K%'"""), {"as_of": as_of})
        c.execute(text("""
            insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
            select dealer_id, 'delivery', amount, day, 'bench', dealer_id || '\:i' || k, '' from bench_invoices
            where day < :as_of"""), {"as_of": as_of})
        c.execute(text("""
            insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
            select dealer_id, 'payment', -amount, paid, 'bench', dealer_id || '\:p' || k, '' from (
                select dealer_id, k, amount, profile, day, day + terms + case
                    when profile < 6 then -(random() * 20)::int
                    when profile < 8 then 20 + (random() * 20)::int
                    when profile = 8 then 60 + (random() * 40)::int
                    else 0 end as paid
                from bench_invoices) p
            where paid < :as_of and not (profile = 9 and day >= cast(:as_of as date) - 150)"""), {"as_of": as_of})
        c.execute(text("""
            insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note)
            select dealer_id, 'return', -round(amount * 0.3, 2), day + 7, 'bench', dealer_id || '\:r' || k, ''
            from bench_invoices where random() < 0.02 and day + 7 < :as_of"""), {"as_of": as_of})
        c.execute(text("""
            insert into credit_points (dealer_id, points, reason, source_type, source_id)
            select id, -(10 + (id % 3) * 15), 'bench diversion case', 'bench', id::text from dealers
            where code like 'K%' and id % 50 = 0"""))
    with engine.connect() as c:
        c.execute(text("analyze"))
        c.commit()


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


async def run_over_http(settings: Settings, month: str) -> dict:
    cm = {"Authorization": f"Bearer {issue_token(username='bench_cm', role='credit_manager', secret=settings.secret_key, minutes=60)}"}
    out = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as api:
        async def stage() -> dict:
            r = await api.get(f"/api/v1/credit/runs/{month}", headers=cm)
            return r.json() if r.status_code == 200 else {"stage": "starting"}

        started = time.perf_counter()
        r = await api.post("/api/v1/credit/runs", json={"month": month}, headers=cm)
        assert r.status_code == 202 and r.json()["action"] == "started", r.text
        while (run := await stage())["stage"] in ("starting", "scoring"):
            await asyncio.sleep(0.05)
        out["scored s"] = time.perf_counter() - started
        while (run := await stage())["stage"] != "closed":
            await asyncio.sleep(0.05)
        out["total s"] = time.perf_counter() - started
        out["run"] = run
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 10,000 dealers")
    args = parser.parse_args()
    dealers = max(10, int(10_000 * args.scale))
    with BenchStack("bench-credit") as bench:  # deploys the shipped rules/credit_score.yaml
        settings = bench.settings
        engine = make_engine(settings.database_url)
        now = datetime.now(timezone.utc)
        month = month_of(now)
        sessions = make_sessionmaker(engine)
        with sessions() as s:
            as_of = credit.plan(s, month, now)
        log(f"generating {dealers:,} dealers with 24 months of ledger history")
        t = time.perf_counter()
        make_data(engine, dealers, as_of)
        log(f"  {time.perf_counter() - t:.1f}s")
        with engine.connect() as c:
            entries = c.execute(text("select count(*) from account_entries")).scalar_one()
            baseline, _ = timed(lambda: c.execute(text(
                "select dealer_id, sum(amount) from account_entries where value_date < :d group by dealer_id"),
                {"d": as_of}).all())

        with sessions() as s:  # the run's own code, in this process, for the split of its time
            compiled, spec = credit.ruleset(s)
            figures_s, rows = timed(lambda: ledger_figures.all_dealers(s, as_of))
            ds = s.execute(select(*COLUMNS, Dealer.rating, Dealer.credit_limit).order_by(Dealer.id)).all()

            def score():
                return [assess_credit(compiled, spec, {**facts_of(d), "dealer.rating": d.rating,
                                                       "dealer.credit_limit": d.credit_limit},
                                      ledger_figures.shape(rows.get(d.id), on=as_of, credit_limit=d.credit_limit))
                        for d in ds]
            scoring_s, assessed = timed(score)
        ratings = {}
        for a in assessed:
            ratings[a.rating] = ratings.get(a.rating, 0) + 1

        worker = bench.worker()
        bench.api()
        peak = PeakRss(worker.pid)
        peak.start()
        out = asyncio.run(run_over_http(settings, month))
        peak.stopped.set()
        totals = out["run"]["totals"]

        print(f"\ncredit scoring {month} of {len(ds):,} dealers over {entries:,} ledger entries")
        print(f"  plain GROUP BY of the ledger (baseline)       {baseline:8.3f} s")
        print(f"  figures of every dealer in the database       {figures_s:8.3f} s   "
              f"= {figures_s / baseline:.1f} × the GROUP BY (one statement, FIFO allocation)")
        print(f"  rules once per dealer                         {scoring_s:8.3f} s   = {len(ds) / scoring_s:,.0f} dealers/s")
        print(f"  ratings (in process): {dict(sorted(ratings.items()))}")
        print(f"  start → every dealer scored and stored        {out['scored s']:8.3f} s")
        print(f"  total time of the run (start → closed)        {out['total s']:8.3f} s   (aim < 30 s)")
        print(f"  changes {totals.get('changes', 0):,}: applied {totals.get('applied', 0):,}, limits lowered "
              f"{totals.get('decreased', 0):,}, increases awaiting approval {totals.get('awaiting_approval', 0):,}; "
              f"ratings {totals.get('by_rating')}")
        print(f"  worker peak RSS                               {peak.peak / 2**20:8.0f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
