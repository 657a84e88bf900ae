"""Re-tiering 10,000 dealers with two years of order history on the embedded PostgreSQL and Temporal
dev server, with a real worker and API process, through the shipped rules/tiering.yaml.

Printed, all measured in this run:
- the figures of every dealer computed in the database (the run's own queries), and a plain GROUP BY
  of the same order lines for scale;
- the scoring through the rule engine, one call per dealer, in dealers per second;
- the run over HTTP: start → every dealer scored, → changes applied, silent dealers flagged and the
  core downgrades sent to HQ, → HQ's approval applied and the run closed (the total);
- the worker's peak memory (psutil).

    .venv/bin/python bench/retiering.py [--dealers 10000] [--orders 400000]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.contracts.tiering import month_of
from dealerflow.shared import accounts
from dealerflow.tiering import runs as tiering  # noqa: E402
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.shared.dealer_facts import facts_of, select_facts  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from dealerflow.core.config import Settings  # noqa: E402
from harness import BenchStack  # noqa: E402
from policies_dsl import assess_tier  # noqa: E402
from policy_rollout import PeakRss, log  # noqa: E402

REGIONS = ("east", "south", "north", "central", "southwest", "northeast")


def make_data(engine, dealers: int, orders: int, as_of) -> None:
    """Dealers (a quarter of them level 2 under a level-1 parent) with tiers, tags and account managers;
    orders over the 24 months before `as_of` and since, heavier for some dealers in the last three
    months, none in the last seven for one dealer in twelve (silent); lines leaning to each dealer's
    category; returns; three policies delivered to everyone with acknowledgments and tasks. All
    generated inside PostgreSQL."""
    level1, level2 = dealers - dealers // 4, dealers // 4
    start = accounts.day_start(tiering.months_before(as_of, 24))
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    quiet_end = accounts.day_start(tiering.months_before(as_of, 7))
    pw = hash_password("bench-password")
    with engine.begin() as c:
        c.execute(text("select setseed(0.17)"))
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, account_manager, created_at)
            select 'R' || lpad(i::text, 6, '0'), 'Bench dealer ' || i, (cast(:regions as text[]))[1 + i % 6], 1,
                   (array['core','key','normal','normal','key','normal','normal','normal','normal','normal'])[1 + (i * 7) % 10],
                   1000000, 0, 'A', 0,
                   case when i % 4 = 0 then '{rural_market}'::varchar[] when i % 5 = 0 then '{retail_terminal}'::varchar[]
                        when i % 5 = 2 then '{window_specialist}'::varchar[] else '{}'::varchar[] end,
                   'retail', 'am_bench_' || (i % 6) || '_' || ((i / 6) % 8),
                   now() - (800 + i % 2500) * interval '1 day'
            from generate_series(1, :n) i"""), {"n": level1, "regions": list(REGIONS)})
        c.execute(text("""
            insert into dealers (code, name, region, level, parent_id, tier, credit_limit, outstanding, rating,
                                 overdue_days, tags, channel, account_manager, created_at)
            select 'R' || lpad((:l1 + i)::text, 6, '0'), 'Bench store dealer ' || i, p.region, 2, p.id, 'normal',
                   200000, 0, 'B', 0, '{retail_terminal}', 'retail', p.account_manager, p.created_at + interval '30 days'
            from generate_series(1, :n) i
            join (select id, region, account_manager, created_at, row_number() over (order by id) as k
                  from dealers where level = 1) p on p.k = 1 + (i * 7919) % :l1"""), {"n": level2, "l1": level1})
        c.execute(text("""insert into users (username, password_hash, role)
                          select distinct account_manager, :pw, 'account_manager' from dealers
                          union all select 'bench_hq', :pw, 'hq'"""), {"pw": pw})
        c.execute(text("""insert into products (sku, name, category, unit_price)
                          select 'BENCH-' || i, 'Bench product ' || i, (array['door','window','cabinet'])[1 + i % 3],
                                 (300 + i * 37 % 3000)::numeric(14, 2) from generate_series(1, 60) i"""))
        # Specialty: 0, 1 buy anything; 2 windows; 3 doors; 4 cabinets. One dealer in twelve went quiet.
        c.execute(text("""
            create temporary table bench_orders on commit drop as
            select gen_random_uuid() as id, d.id as dealer_id, d.id % 5 as specialty, d.level,
                   :start + random() * (case when d.id % 12 = 0 then :quiet_end - :start else :end - :start end) as at
            from generate_series(1, :orders) g
            join (select id, level, row_number() over (order by id) - 1 as k from dealers) d on d.k = (g::bigint * 7919) % :dealers
            union all  -- one dealer in nine orders much more in the last three months
            select gen_random_uuid(), d.id, d.id % 5, d.level, :recent + random() * (:end - :recent)
            from dealers d cross join generate_series(1, 6) g where d.id % 9 = 0 and d.id % 12 <> 0"""),
            {"start": start, "end": end, "quiet_end": quiet_end, "orders": orders, "dealers": dealers,
             "recent": accounts.day_start(tiering.months_before(as_of, 3))})
        c.execute(text("""
            create temporary table bench_lines on commit drop as
            select o.id as order_id, l as line_no, p.id as product_id, p.sku, r.q as quantity, p.unit_price,
                   p.unit_price * r.q as amount
            from bench_orders o cross join lateral generate_series(1, 1 + (random() * 3)::int + 0 * o.specialty) l
            cross join lateral (
                select (1 + random() * (case when o.level = 2 then 3 else 12 end))::int as q,
                       case when o.specialty >= 2 and random() < 0.8 then (array[1, 0, 2])[o.specialty - 1]
                            else (random() * 2.999)::int end as c,
                       1 + (random() * 17.999)::int as j, l as anchor) r
            join products p on p.sku = 'BENCH-' || (3 * r.j + r.c)"""))
        c.execute(text("""
            insert into orders (id, dealer_id, status, amount, workflow_id, created_at, updated_at, shipped_at, delivered_at)
            select o.id, o.dealer_id, 'delivered', s.amount, 'order-' || o.id, o.at, o.at, o.at, o.at
            from bench_orders o join (select order_id, sum(amount) as amount from bench_lines group by order_id) s
              on s.order_id = o.id"""))
        c.execute(text("""
            insert into order_lines (order_id, line_no, product_id, sku, quantity, unit_price, amount)
            select order_id, line_no, product_id, sku, quantity, unit_price, amount from bench_lines"""))
        c.execute(text("""
            insert into order_returns (reference, order_id, dealer_id, product_id, sku, quantity, amount, returned_at,
                                       reason, recorded_by)
            select 'BRT-' || row_number() over (), o.id, o.dealer_id, l.product_id, l.sku, 1, l.unit_price,
                   o.at + interval '5 days', 'damaged in transport', 'bench'
            from bench_orders o join bench_lines l on l.order_id = o.id and l.line_no = 1
            where random() < 0.02 and o.at + interval '5 days' < now()"""))
        c.execute(text("""
            insert into policies (id, version, title, category, status, workflow_id, published_by)
            select 'bench_policy_' || i, 1, 'Bench policy ' || i, 'promotion', 'active', 'policy-bench-' || i, 'bench'
            from generate_series(1, 3) i"""))
        c.execute(text("""
            insert into policy_targets (policy_id, dealer_id, pilot, targeted_version, facts, delivered_at,
                                        delivered_version, ack_due_at, acknowledged_at, acknowledged_version,
                                        acknowledged_late, reminders_sent, escalation_level)
            select 'bench_policy_' || i, d.id, false, 1, '{}', :as_of - i * interval '60 days', 1,
                   :as_of - i * interval '60 days' + interval '2 days',
                   case when r < 0.85 then :as_of - i * interval '60 days' + (case when r < 0.7 then 1 else 3 end) * interval '1 day' end,
                   case when r < 0.85 then 1 end, case when r < 0.85 then r >= 0.7 end, 0, 0
            from dealers d cross join generate_series(1, 3) i cross join lateral (select random() as r, d.id as anchor) x"""),
            {"as_of": accounts.day_start(as_of)})
        c.execute(text("""
            insert into policy_assignments (id, policy_id, task_key, dealer_id, status, due_at, accepted_at, submissions, created_at)
            select gen_random_uuid(), policy_id, 'display', dealer_id, case when random() < 0.6 then 'accepted' else 'assigned' end,
                   delivered_at + interval '14 days', null, 0, delivered_at
            from policy_targets where policy_id like 'bench_policy_%'"""))
        c.execute(text("update policy_assignments set accepted_at = due_at - interval '3 days' where status = 'accepted'"))
    with engine.connect() as c:
        c.execute(text("analyze"))
        c.commit()


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


async def run_over_http(settings: Settings, engine, month: str) -> dict:
    hq = {"Authorization": f"Bearer {issue_token(username='bench_hq', role='hq', secret=settings.secret_key, minutes=60)}"}
    out = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as api:
        async def stage() -> dict:
            r = await api.get(f"/api/v1/tiering/runs/{month}", headers=hq)
            return r.json() if r.status_code == 200 else {"stage": "starting"}

        started = time.perf_counter()
        r = await api.post("/api/v1/tiering/runs", json={"month": month}, headers=hq)
        assert r.status_code == 202 and r.json()["action"] == "started", r.text
        while (run := await stage())["stage"] in ("starting", "scoring"):
            await asyncio.sleep(0.05)
        out["scored s"] = time.perf_counter() - started
        while (run := await stage())["stage"] not in ("awaiting_approval", "closed"):
            await asyncio.sleep(0.05)
        out["applied s"] = time.perf_counter() - started
        out["approval s"] = 0.0
        if run["stage"] == "awaiting_approval":
            task = None
            while task is None:
                tasks = (await api.get("/api/v1/tasks", headers=hq)).json()
                task = next((t for t in tasks if t["kind"] == "tier_downgrade" and t["subject_id"] == month), None)
                await asyncio.sleep(0.05)
            out["awaiting"] = task["payload"]["count"]
            t = time.perf_counter()
            r = await api.post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"}, headers=hq)
            assert r.status_code == 200, r.text
            while (run := await stage())["stage"] != "closed":
                await asyncio.sleep(0.05)
            out["approval s"] = time.perf_counter() - t
        out["total s"] = time.perf_counter() - started
        out["run"] = run
        out["distribution"] = (await api.get("/api/v1/tiering/distribution", headers=hq)).json()["by_tier"]
        out["silent"] = (await api.get("/api/v1/tiering/silent", params={"limit": 1}, headers=hq)).json()
    with engine.connect() as c:
        out["activation tasks"] = c.execute(text("select count(*) from human_tasks where kind = 'dealer_activation'")).scalar_one()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dealers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=400_000)
    args = parser.parse_args()
    with BenchStack("bench-retiering") as bench:  # deploys the shipped rules/tiering.yaml
        settings = bench.settings
        engine = make_engine(settings.database_url)
        now = datetime.now(timezone.utc)
        month = month_of(now)
        sessions = make_sessionmaker(engine)
        with sessions() as s:
            as_of = tiering.plan(s, month, now)
        log(f"generating {args.dealers:,} dealers and {args.orders:,}+ orders over 24 months")
        t = time.perf_counter()
        make_data(engine, args.dealers, args.orders, as_of)
        log(f"  {time.perf_counter() - t:.1f}s")
        with engine.connect() as c:
            counts = c.execute(text("select (select count(*) from orders), (select count(*) from order_lines)")).one()
            baseline, _ = timed(lambda: c.execute(text(
                "select o.dealer_id, sum(l.amount) from order_lines l join orders o on o.id = l.order_id "
                "where o.delivered_at >= :y2 group by o.dealer_id"),
                {"y2": accounts.day_start(tiering.months_before(as_of, 24))}).all())

        with sessions() as s:  # the run's own code, in this process, for the split of its time
            compiled, spec = tiering.ruleset(s)
            dealers = s.execute(select_facts()).all()
            figures_s, figs = timed(lambda: tiering.figures(s, as_of, dealers))
            scoring_s, _ = timed(lambda: [assess_tier(compiled, spec, facts_of(d), figs[d.id]) for d in dealers])

        worker = bench.worker()
        bench.api()
        peak = PeakRss(worker.pid)
        peak.start()
        out = asyncio.run(run_over_http(settings, engine, month))
        peak.stopped.set()
        run = out["run"]

        print(f"\nre-tiering {month} of {len(dealers):,} dealers over {counts[0]:,} orders, {counts[1]:,} order lines")
        print(f"  plain GROUP BY of the lines (for scale)       {baseline:8.3f} s")
        print(f"  figures of every dealer in the database       {figures_s:8.3f} s   (5 grouped queries)")
        print(f"  scoring through the rules, one call a dealer  {scoring_s:8.3f} s   "
              f"= {len(dealers) / scoring_s:,.0f} dealers/s")
        print(f"  start → every dealer scored                   {out['scored s']:8.3f} s")
        print(f"  start → applied, silent flagged, HQ asked      {out['applied s']:8.3f} s")
        print(f"  HQ approval → downgrades applied, closed      {out['approval s']:8.3f} s   "
              f"({out.get('awaiting', 0)} core downgrades)")
        print(f"  total time of the run                         {out['total s']:8.3f} s")
        totals = run["totals"]
        print(f"  changes {totals['changes']:,} (up {totals['upgrades']:,}, down {totals['downgrades']:,}); "
              f"applied {totals.get('statuses', {}).get('applied', 0):,}; tiers after: {out['distribution']}")
        print(f"  silent dealers flagged {totals['silent_flagged']:,}, activation tasks "
              f"{out['activation tasks']} (one per account manager)")
        print(f"  worker peak RSS                               {peak.peak / 2**20:8.0f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
