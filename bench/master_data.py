"""Bulk import of dealers on the embedded PostgreSQL: the set-based import (check everything, one
INSERT … ON CONFLICT, parents by code, the audit rows) against the one-record service path the API's
POST /dealers uses, in one run. Printed, all measured in this run:
- a dry run of the whole file (read, parse, check against the database), rows per second;
- the import creating every dealer (a tenth of them level 2 under dealers of the same file; limits up to
  200,000.00, the credit file's threshold, above which a limit waits for approval);
- a re-import changing a tenth of the rows (the others reported unchanged);
- the same XLSX file read and imported as a dry run;
- the baseline: dealers created one by one through dealerflow.masterdata.dealers.create, and the ratio.

    .venv/bin/python bench/master_data.py [--scale 1.0] [--keep]
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.masterdata import dealers, imports  # noqa: E402
from dealerflow.models import User  # noqa: E402
from harness import BenchStack  # noqa: E402

REGIONS = ["east", "south", "north", "central", "southwest", "northwest"]
COLUMNS = ["code", "name", "region", "level", "parent_code", "credit_limit", "account_manager", "contact_name",
           "contact_phone", "contact_birthday", "cooperation_since", "payment_terms_days", "channel"]


def rows(n: int, prefix: str, change: int = 0) -> list[list]:
    out = []
    for i in range(n):
        level2 = i % 10 == 9
        parent = f"{prefix}{i - 1:06d}" if level2 and (i - 1) % 10 != 9 else ""
        out.append([f"{prefix}{i:06d}", f"Dealer {i}" + (" (renamed)" if change and i % change == 0 else ""),
                    REGIONS[i % 6], "2" if parent else "1", parent, f"{(i % 20 + 1) * 10000}.00",
                    f"am_{REGIONS[i % 6]}", "王经理", f"138{i:08d}", "1980-05-06", "2018-03-01", "45", "retail"])
    return out


def csv_bytes(table: list[list]) -> bytes:
    return ("\ufeff" + "\n".join(",".join(r) for r in [COLUMNS, *table]) + "\n").encode()


def xlsx_bytes(table: list[list]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(COLUMNS)
    for r in table:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def timed(label: str, n: int, fn):
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {n:>7} rows  {seconds:8.2f} s  {n / seconds:9.0f} rows/s")
    return result, n / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 20,000 dealers in the file")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    n = max(100, int(20_000 * args.scale))
    one_by_one = max(50, n // 20)
    with BenchStack("bench-master-data", keep=args.keep) as bench:
        sessions = make_sessionmaker(make_engine(bench.settings.database_url))
        with sessions.begin() as s:
            s.add_all(User(username=f"am_{r}", password_hash="!", role="account_manager") for r in REGIONS)

        def run(data: bytes, dry_run: bool):
            with sessions() as s:
                result = imports.run(s, kind="dealers", data=data, actor="bench", dry_run=dry_run)
                s.rollback() if dry_run else s.commit()
                return result

        table = rows(n, "B")
        data = csv_bytes(table)
        print(f"dealers import, {n} rows ({len(data) / 1e6:.1f} MB CSV)")
        timed("dry run (CSV, all new)", n, lambda: run(data, True))
        created, bulk_rate = timed("import creating every dealer", n, lambda: run(data, False))
        assert created.created == n
        changed = csv_bytes(rows(n, "B", change=10))
        updated, _ = timed("re-import changing a tenth", n, lambda: run(changed, False))
        print(f"{'':<44} updated {updated.updated}, unchanged {updated.unchanged}")
        workbook = xlsx_bytes(rows(n, "B", change=10))
        timed("dry run (XLSX, all unchanged)", n, lambda: run(workbook, True))

        def singly():
            for r in rows(one_by_one, "S"):
                with sessions() as s:
                    values = dict(zip(COLUMNS, r))
                    dealers.create(s, code=values["code"], name=values["name"], region=values["region"],
                                   level=int(values["level"]), parent_code=values["parent_code"] or None,
                                   account_manager=values["account_manager"], actor="bench")
                    s.commit()
        _, single_rate = timed("baseline: one by one through the service", one_by_one, singly)
        print(f"set-based import / one by one: {bulk_rate / single_rate:.1f}x")


if __name__ == "__main__":
    main()
