"""Stock report ingest: rows per second through the API (POST /api/v1/inventory/stock-reports, JSON
batches of 10,000 rows, all checked: skus, dealers, quantities, days, stale reports; replacing the
day's current report), against COPY of the same rows straight into the table, on the embedded
PostgreSQL with the product's API process.

    .venv/bin/python bench/stock_report_ingest.py [--scale 1.0]   # 1.0: 200,000 rows (1,000 dealers × 200 skus)
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.contracts.inventory import day_of  # noqa: E402
from dealerflow.core.db import make_engine  # noqa: E402
from dealerflow.core.security import hash_password, issue_token  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import log  # noqa: E402

BATCH = 10_000
SKUS = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    dealers = max(1, int(1_000 * args.scale))
    with BenchStack("bench-stock-ingest", keep=args.keep) as bench:
        settings = bench.settings
        engine = make_engine(settings.database_url)
        with engine.begin() as c:
            c.execute(text("""insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating,
                                                  overdue_days)
                              select 'S' || lpad(i::text, 6, '0'), 'Bench dealer ' || i, 'east', 1, 'normal', 0, 0,
                                     'A', 0
                              from generate_series(1, :n) i"""), {"n": dealers})
            c.execute(text("""insert into products (sku, name, category, unit_price) select 'ING-' || i, 'Bench product ' || i,
                              'door', 100
                              from generate_series(1, :s) i"""), {"s": SKUS})
            c.execute(text("insert into users (username, password_hash, role) values ('bench_hq', :pw, 'hq')"),
                      {"pw": hash_password("bench-password")})
            ids = dict(c.execute(text("select code, id from dealers")).all())
            products = dict(c.execute(text("select sku, id from products")).all())
        day = day_of(datetime.now(timezone.utc), days_back=1)
        rows = [{"dealer": f"S{d:06d}", "sku": f"ING-{s}", "day": day, "on_hand": (d * 7 + s) % 300,
                 "in_transit": (d + s) % 5} for d in range(1, dealers + 1) for s in range(1, SKUS + 1)]
        bench.api()
        hq = {"Authorization": f"Bearer {issue_token(username='bench_hq', role='hq', secret=settings.secret_key, minutes=60)}"}
        log(f"{len(rows):,} rows through the API in batches of {BATCH:,}")
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=300) as api:
            t = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                r = api.post("/api/v1/inventory/stock-reports", json={"rows": rows[i:i + BATCH]}, headers=hq)
                assert r.status_code == 201, r.text[:500]
            api_s = time.perf_counter() - t
        # COPY of the same rows (a later count of the same day: the table takes them as history rows).
        at = datetime.now(timezone.utc).isoformat()
        buf = io.StringIO()
        for r in rows:
            buf.write(f"{ids[r['dealer']]}\t{products[r['sku']]}\t{r['day']}\t{r['on_hand']}\t{r['in_transit']}\t{at}\t"
                      f"api\tbench\tf\n")
        raw = engine.raw_connection()
        try:
            t = time.perf_counter()
            with raw.cursor() as cur:
                buf.seek(0)
                cur.copy_expert("copy stock_reports (dealer_id, product_id, day, on_hand, in_transit, reported_at, "
                                "source, reported_by, current) from stdin", buf)
            raw.commit()
            copy_s = time.perf_counter() - t
        finally:
            raw.close()
        print(f"\nstock report ingest of {len(rows):,} rows ({dealers:,} dealers × {SKUS} skus), JSON batches of {BATCH:,}")
        print(f"  through the API (checked, stale-tested, stored) {api_s:8.3f} s   = {len(rows) / api_s:10,.0f} rows/s")
        print(f"  raw COPY into the table                       {copy_s:8.3f} s   = {len(rows) / copy_s:10,.0f} rows/s")
        print(f"  API ÷ COPY time                               {api_s / copy_s:8.2f}×")
        engine.dispose()


if __name__ == "__main__":
    main()
