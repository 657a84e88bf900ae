"""Importing the ERP's order history: 1,000,000 order lines (with their 200,000 orders, delivered
between January 2024 and June 2026) through the import path, against a raw COPY of the same rows
into the same tables in the same run, on the embedded PostgreSQL.

The import path is the service the API and the console call (`dealerflow/orders/history.py`): the
CSV file read and COPied into staging, every cell and row checked in SQL, then orders, lines, status
events and ledger entries written by INSERT … SELECT (the daily sales rollup follows by its
triggers). The baseline takes the rows the import wrote (COPY … TO), empties the tables, and COPies
them back in (the same triggers fire). Printed: seconds, order lines a second, and the ratio of the
import's rate to the raw COPY's (aim: at least 0.3).

    .venv/bin/python bench/history_import.py [--scale 1.0] [--dealers 2000]
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.orders import history  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import log  # noqa: E402

LINES = 1_000_000
PRODUCTS = 60
CHINA = timezone(timedelta(hours=8))
TABLES = ("orders", "order_lines", "order_events", "account_entries")
# The rows the import wrote, table by table (what the raw COPY loads again).
DUMPS = {
    "orders": "select * from orders where imported",
    "order_lines": "select l.* from order_lines l join orders o on o.id = l.order_id where o.imported",
    "order_events": "select e.* from order_events e join orders o on o.id = e.order_id where o.imported",
    "account_entries": "select a.* from account_entries a where a.source_type = 'order' and a.note like '%ERP order%'",
}


def make_master_data(engine, dealers: int) -> None:
    with engine.begin() as c:
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, created_at)
            select 'D' || lpad(i::text, 6, '0'), 'Bench dealer ' || i, 'R' || lpad((i % 30)::text, 2, '0'), 1,
                   'normal', 1000000, 0, 'A', 0, '{}', 'retail', timestamptz '2018-01-01'
            from generate_series(1, :n) i"""), {"n": dealers})
        c.execute(text("""
            insert into products (sku, name, category, unit_price)
            select 'P-' || i, 'Bench product ' || i, (array['door','window','cabinet','floor','hardware'])[1 + i % 5],
                   (80 + i * 37 % 2000)::numeric(14, 2) from generate_series(1, :n) i"""), {"n": PRODUCTS})


def make_file(lines: int, dealers: int) -> tuple[bytes, int]:
    """An ERP export: one row per order line, the order's columns repeated; 1 to 9 lines an order (5
    on average); delivered orders and a share completed, a few cancelled."""
    rng = random.Random(7)
    start = datetime(2024, 1, 1, 8, tzinfo=CHINA)
    out = io.StringIO()
    out.write("order_ref,dealer,status,placed_at,shipped_at,delivered_at,sku,quantity,unit_price\n")
    written = orders = 0
    while written < lines:
        orders += 1
        placed = start + timedelta(minutes=rng.randrange(0, 910 * 24 * 60))
        shipped, delivered = placed + timedelta(days=rng.randrange(1, 4)), placed + timedelta(days=rng.randrange(4, 9))
        status = rng.choices(("delivered", "completed", "cancelled"), (50, 48, 2))[0]
        if status == "cancelled":
            dates = f"{placed.isoformat()},,"
        else:
            dates = f"{placed.isoformat()},{shipped.isoformat()},{delivered.isoformat()}"
        head = f"SO{orders:08d},D{rng.randrange(1, dealers + 1):06d},{status},{dates}"
        for _ in range(min(rng.randrange(1, 10), lines - written)):
            price = f"{rng.randrange(80, 2000)}.{rng.randrange(0, 100):02d}" if rng.random() < 0.5 else ""
            out.write(f"{head},P-{rng.randrange(1, PRODUCTS + 1)},{rng.randrange(1, 50)},{price}\n")
            written += 1
    return out.getvalue().encode(), orders


def dump(engine) -> dict[str, bytes]:
    raw = engine.raw_connection()
    try:
        out = {}
        with raw.cursor() as cur:
            for table in TABLES:
                buffer = io.BytesIO()
                cur.copy_expert(f"copy ({DUMPS[table]}) to stdout", buffer)
                out[table] = buffer.getvalue()
        raw.commit()
        return out
    finally:
        raw.close()


def empty(engine) -> None:
    with engine.begin() as c:
        c.execute(text("truncate orders, order_lines, order_events, account_entries, sales_daily cascade"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("vacuum analyze orders, order_lines, order_events, account_entries, sales_daily"))


def raw_copy(engine, dumps: dict[str, bytes]) -> float:
    raw = engine.raw_connection()
    try:
        t = time.perf_counter()
        with raw.cursor() as cur:
            for table in TABLES:
                cur.copy_expert(f"copy {table} from stdin", io.BytesIO(dumps[table]))
        raw.commit()
        return time.perf_counter() - t
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="share of the 1,000,000 lines (0.1: 100,000)")
    parser.add_argument("--dealers", type=int, default=2000)
    args = parser.parse_args()
    lines = max(10, int(LINES * args.scale))
    with BenchStack("bench-history") as bench:
        engine = make_engine(bench.settings.database_url)
        sessions = make_sessionmaker(engine)
        make_master_data(engine, args.dealers)
        log(f"generating an ERP export of {lines:,} order lines")
        data, orders = make_file(lines, args.dealers)
        log(f"  {orders:,} orders, {len(data) / 1e6:.1f} MB")

        log("importing through the import path")
        t = time.perf_counter()
        with sessions() as s:
            found = history.import_file(s, data=data, actor="bench")
            s.commit()
        imported = time.perf_counter() - t
        assert found.lines == lines and found.orders == orders, found

        with engine.connect() as c:
            rollup = c.execute(text("select sum(delivered_qty) from sales_daily")).scalar()
            written = {table: c.execute(text(f"select count(*) from ({DUMPS[table]}) x")).scalar() for table in TABLES}
        log(f"  rows written: {written}; sales_daily units {rollup:,}")

        log("again: the same file (everything already there)")
        t = time.perf_counter()
        with sessions() as s:
            again = history.import_file(s, data=data, actor="bench")
            s.commit()
        second = time.perf_counter() - t
        assert again.orders == 0 and again.already["orders"] == orders, again

        log("raw COPY of the same rows into the same tables")
        dumps = dump(engine)
        empty(engine)
        copied = raw_copy(engine, dumps)
        with engine.connect() as c:
            assert c.execute(text("select sum(delivered_qty) from sales_daily")).scalar() == rollup

        total_rows = sum(written.values())
        print(f"order history import, {lines:,} order lines in {orders:,} orders "
              f"({total_rows:,} rows written: {', '.join(f'{k} {v:,}' for k, v in written.items())})")
        print(f"  import path (parse, COPY to staging, SQL checks, INSERT … SELECT)  {imported:8.2f} s  "
              f"{lines / imported:10,.0f} lines/s")
        print(f"  raw COPY of the same rows into the same tables                   {copied:8.2f} s  "
              f"{lines / copied:10,.0f} lines/s")
        print(f"  ratio import / raw COPY (rate)                                   {copied / imported:8.2f} x  (aim >= 0.3)")
        print(f"    of which read and COPied to staging {found.timings['staged']:.2f} s, checked "
              f"{found.timings['checked']:.2f} s, written {found.timings['written']:.2f} s")
        print(f"  the same file again (all already there, nothing written)         {second:8.2f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
