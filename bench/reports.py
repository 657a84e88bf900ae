"""Reports and dashboards over 10,000 dealers and 5,000,000 delivered order lines (18 months, with
returns) on the embedded PostgreSQL, timed server-side by calling the report services in-process.

Printed, all measured in this run:
- generating the lines (the insert maintains the daily sales rollup through its triggers);
- a plain GROUP BY of the same lines (net sales by region over the report's three periods, and
  over all 5M lines), the baselines;
- for HQ's dashboard and each report (quarter, year and from–to), an account manager's scoped
  dashboard (about 300 dealers) and a dealer's own view: p50 and p99 over --runs runs, and the
  p50's ratio to the baseline. Target: p99 < 300 ms.

    .venv/bin/python bench/reports.py [--dealers 10000] [--lines 5000000] [--runs 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.reports import dashboard, filters as report_filters, operations, sales  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import log  # noqa: E402

REGIONS = 30


def make_data(engine, dealers: int, lines: int) -> dict:
    """Dealers in 30 regions with 33 account managers, 60 products in 5 categories, orders of five
    lines delivered between January 2025 and June 2026 (China time), a return for one line in a
    hundred; tier scores for two months, silent dealers, open tasks, diversion cases and one
    settlement run with a statement per dealer. Generated inside PostgreSQL."""
    orders = lines // 5
    timings = {}
    with engine.begin() as c:
        c.execute(text("select setseed(0.23)"))
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, account_manager, created_at)
            select 'D' || lpad(i::text, 6, '0'), 'Bench dealer ' || i, 'R' || lpad((i % :regions)::text, 2, '0'), 1,
                   (array['core','key','normal','normal','normal'])[1 + i % 5], 1000000, 0, 'A', 0, '{}', 'retail',
                   'am' || (i % 33), timestamptz '2018-01-01'
            from generate_series(1, :n) i"""), {"n": dealers, "regions": REGIONS})
        c.execute(text("""
            insert into products (sku, name, category, unit_price)
            select 'P-' || i, 'Bench product ' || i, (array['door','window','cabinet','floor','hardware'])[1 + i % 5],
                   (80 + i * 37 % 2000)::numeric(14, 2) from generate_series(1, 60) i"""))
        c.execute(text("""
            create temporary table bench_orders on commit drop as
            select gen_random_uuid() as id, d.id as dealer_id,
                   timestamptz '2025-01-01 00:00+08' + random() * interval '546 days' as at
            from generate_series(1, :orders) g
            join (select id, row_number() over (order by id) - 1 as k from dealers) d
              on d.k = (g::bigint * 7919) % :dealers"""), {"orders": orders, "dealers": dealers})
        c.execute(text("""
            create temporary table bench_lines on commit drop as
            select o.id as order_id, l as line_no, p.id as product_id, p.sku, r.q as quantity, p.unit_price,
                   p.unit_price * r.q as amount
            from bench_orders o cross join generate_series(1, 5) l
            cross join lateral (select 1 + (random() * 9)::int as q, 1 + (random() * 59)::int as pk, l as anchor) r
            join products p on p.sku = 'P-' || r.pk"""))
        c.execute(text("""
            insert into orders (id, dealer_id, status, amount, workflow_id, created_at, updated_at, shipped_at,
                                delivered_at)
            select o.id, o.dealer_id, 'delivered', s.amount, 'order-' || o.id, o.at, o.at, o.at, o.at
            from bench_orders o join (select order_id, sum(amount) as amount from bench_lines group by order_id) s
              on s.order_id = o.id"""))
        t = time.perf_counter()
        c.execute(text("""
            insert into order_lines (order_id, line_no, product_id, sku, quantity, unit_price, amount)
            select order_id, line_no, product_id, sku, quantity, unit_price, amount from bench_lines"""))
        timings["insert of the lines with the rollup's trigger s"] = time.perf_counter() - t
        t = time.perf_counter()
        c.execute(text("""
            insert into order_returns (reference, order_id, dealer_id, product_id, sku, quantity, amount,
                                       returned_at, recorded_by, reason)
            select 'RET-' || row_number() over (), l.order_id, o.dealer_id, l.product_id, l.sku, 1, l.unit_price,
                   o.at + interval '10 days', 'bench', ''
            from bench_lines l join bench_orders o on o.id = l.order_id where random() < 0.01"""))
        timings["insert of the returns with the rollup's trigger s"] = time.perf_counter() - t
        # The operational tables, at a realistic size.
        c.execute(text("""
            insert into tiering_runs (month, ruleset_version, as_of, workflow_id, stage, started_by, totals)
            values ('2026-03', 1, '2026-03-01', 'tiering-2026-03', 'closed', 'bench', '{}'),
                   ('2026-06', 1, '2026-06-01', 'tiering-2026-06', 'closed', 'bench', '{}')"""))
        c.execute(text("""
            insert into tier_scores (run_month, dealer_id, score, dimensions, old_tier, new_tier, old_tags, new_tags,
                                     rule_tags, status, explanation)
            select m, d.id, 50, '{}', d.tier,
                   case when m = '2026-06' and d.id % 7 = 0 then 'core' else d.tier end,
                   '{}', '{}', '{}', case when m = '2026-06' and d.id % 7 = 0 then 'applied' else 'unchanged' end, '{}'
            from dealers d cross join (values ('2026-03'), ('2026-06')) v(m)"""))
        c.execute(text("""
            insert into silent_dealers (dealer_id, run_month, silent_since, flagged_at, account_manager, actions,
                                        activated_at)
            select d.id, '2026-06', '2025-12-01', '2026-06-01', d.account_manager, '[]',
                   case when d.id % 3 = 0 then timestamptz '2026-06-15' end
            from dealers d where d.id % 20 = 0"""))
        c.execute(text("""
            insert into human_tasks (id, kind, title, subject_type, subject_id, dealer_id, workflow_id, assignee_role,
                                     outcomes, payload, due_at, status, completed_at, reminders_sent)
            select gen_random_uuid(), 'review', 'Bench task', 'order', i::text, 1 + i % :dealers, 'w-' || i,
                   (array['finance','hq','credit_manager','account_manager'])[1 + i % 4], '[]', '{}',
                   timestamptz '2026-06-01' + (i % 60) * interval '1 day',
                   case when i % 3 = 0 then 'completed' else 'open' end,
                   case when i % 3 = 0 then timestamptz '2026-06-10' end, 0
            from generate_series(1, 5000) i"""), {"dealers": dealers})
        c.execute(text("""
            insert into diversion_cases (dealer_id, product_id, region, status, first_alert_at, opened_at, points)
            select 1 + i % :dealers, 1 + i % 60, 'R' || lpad(((i * 7) % :regions)::text, 2, '0'),
                   (array['open','confirmed','dismissed'])[1 + i % 3],
                   timestamptz '2026-04-01' + (i % 90) * interval '1 day',
                   timestamptz '2026-04-01' + (i % 90) * interval '1 day', case when i % 3 = 1 then 10 end
            from generate_series(1, 3000) i"""), {"dealers": dealers, "regions": REGIONS})
        c.execute(text("""
            insert into settlement_runs (id, program, period, upto, final, ruleset_version, measure_from, span_from,
                                         span_to, workflow_id, stage, started_by, approved_by, totals)
            values ('bench:2026-Q2', 'bench', '2026-Q2', '2026-Q2', true, 1, '2026-04-01', '2026-04-01',
                    '2026-06-30', 'settlement-bench', 'awaiting_confirmation', 'bench', '[]', '{}')"""))
        c.execute(text("""
            insert into statements (id, run_id, dealer_id, revision, current, points, status, opening, deliveries, returns, payments,
                                    rebates_posted, rebate, points_amount, closing, explanation, confirm_by)
            select gen_random_uuid(), 'bench:2026-Q2', d.id, 1, true, 0, (array['issued','confirmed','disputed'])[1 + d.id % 3],
                   0, 1000, 0, 0, 0, 10, 0, 990, '{}', timestamptz '2026-07-15'
            from dealers d"""))
    with engine.connect() as c:
        c.execute(text("analyze"))
        c.commit()
        timings["rollup rows"] = c.execute(text("select count(*) from sales_daily")).scalar_one()
        timings["order lines"] = c.execute(text("select count(*) from order_lines")).scalar_one()
    return timings


def measure(fn, runs: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds over `runs` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
    return statistics.median(samples), p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dealers", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with BenchStack("bench-reports") as bench:
        engine = make_engine(bench.settings.database_url)
        sessions = make_sessionmaker(engine)
        log(f"generating {args.dealers:,} dealers and {args.lines:,} delivered order lines")
        t = time.perf_counter()
        made = make_data(engine, args.dealers, args.lines)
        log(f"  {time.perf_counter() - t:.1f}s")
        now = datetime(2026, 6, 30, 12, tzinfo=timezone.utc)

        with sessions() as s:
            quarter = report_filters.make(s, period="2026-Q2")
            year = report_filters.make(s, period="2025")
            days = report_filters.make(s, date_from="2026-03-10", date_to="2026-05-20")
            door = report_filters.make(s, period="2026-Q2", category="door", region="R07")
            manager = list(s.scalars(text("select id from dealers where account_manager = 'am7'")))
            dealer_id = s.scalar(text("select id from dealers where code = 'D000077'"))

        baseline_sql = text("""
            select d.region, sum(x.amount) from (
                select o.dealer_id, l.amount from order_lines l join orders o on o.id = l.order_id
                where (o.delivered_at >= :c0 and o.delivered_at < :c1) or (o.delivered_at >= :p0 and o.delivered_at < :p1)
                   or (o.delivered_at >= :y0 and o.delivered_at < :y1)
                union all
                select r.dealer_id, -r.amount from order_returns r
                where (r.returned_at >= :c0 and r.returned_at < :c1) or (r.returned_at >= :p0 and r.returned_at < :p1)
                   or (r.returned_at >= :y0 and r.returned_at < :y1)) x
            join dealers d on d.id = x.dealer_id group by d.region""")
        spans = {"c0": quarter.current.since, "c1": quarter.current.until, "p0": quarter.previous.since,
                 "p1": quarter.previous.until, "y0": quarter.year_ago.since, "y1": quarter.year_ago.until}
        all_sql = text("select o.dealer_id % 30, sum(l.amount) from order_lines l join orders o on o.id = l.order_id "
                       "group by 1")
        with engine.connect() as c:
            base_q = measure(lambda: c.execute(baseline_sql, spans).all(), max(5, args.runs // 4))
            base_all = measure(lambda: c.execute(all_sql).all(), 3)

        def call(fn, **kw):
            def run():
                with sessions() as s:
                    return fn(s, **kw)
            return run

        cases = [
            ("HQ dashboard, quarter", call(dashboard.staff_dashboard, filters=quarter, now=now)),
            ("HQ dashboard, year", call(dashboard.staff_dashboard, filters=year, now=now)),
            ("HQ dashboard, from–to (72 days)", call(dashboard.staff_dashboard, filters=days, now=now)),
            ("HQ dashboard, quarter, one region and category", call(dashboard.staff_dashboard, filters=door, now=now)),
            (f"account manager dashboard ({len(manager)} dealers), quarter",
             call(dashboard.staff_dashboard, filters=quarter, dealer_ids=manager, now=now)),
            ("dealer's own view (rank in its region), quarter", call(dashboard.dealer_dashboard, filters=quarter,
                                                                     dealer_id=dealer_id)),
            ("sales-by-region, quarter", call(sales.sales_by_region, filters=quarter)),
            ("sales-by-region, year", call(sales.sales_by_region, filters=year)),
            ("top-products, quarter", call(sales.top_products, filters=quarter)),
            ("top-products, year", call(sales.top_products, filters=year)),
            ("tasks, quarter", call(operations.tasks_by_role, filters=quarter, now=now)),
            ("settlements, quarter", call(operations.settlement_runs, filters=quarter)),
            ("diversion, quarter", call(operations.diversion_cases, filters=quarter)),
            ("tiers, quarter", call(operations.tiers, filters=quarter)),
            ("silent-dealers, quarter", call(operations.silent_dealers, filters=quarter)),
        ]
        results = []
        for name, fn in cases:
            results.append((name, *measure(fn, args.runs)))
            log(f"  {name}: p50 {results[-1][1]:.1f} ms")

        print(f"\nreports over {made['order lines']:,} order lines of {args.dealers:,} dealers "
              f"(rollup: {made['rollup rows']:,} rows of day × region × product)")
        for k in ("insert of the lines with the rollup's trigger s", "insert of the returns with the rollup's trigger s"):
            print(f"  {k:<58} {made[k]:8.1f}")
        print(f"  {'baseline: plain GROUP BY of the quarter report lines (3 spans)':<58} {base_q[0]:8.1f} ms p50")
        print(f"  {'baseline: plain GROUP BY of all lines':<58} {base_all[0]:8.1f} ms p50")
        print(f"\n  {'':<58} {'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15}")
        for name, p50, p99 in results:
            flag = "" if p99 < 300 else "  (over 300 ms)"
            print(f"  {name:<58} {p50:8.1f} {p99:8.1f} {p50 / base_q[0]:15.3f}{flag}")


if __name__ == "__main__":
    main()
