"""A report's rows as a spreadsheet: CSV (UTF-8 with a byte-order mark, which Excel on Chinese Windows
needs to read UTF-8) or XLSX. A text cell a spreadsheet would read as a formula (starting with
=, +, -, @, a tab or a carriage return) gets a leading ' so it stays text; numbers stay numbers."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def text_cell(value) -> str:
    """The cell as CSV text, neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_csv(columns: Sequence[str], rows: Sequence[dict]) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    w = csv.writer(out)
    w.writerow([text_cell(c) for c in columns])
    for row in rows:
        w.writerow([text_cell(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")


def to_xlsx(columns: Sequence[str], rows: Sequence[dict], *, title: str) -> bytes:
    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(columns))
    for r, row in enumerate(rows, start=2):
        for c, name in enumerate(columns, start=1):
            value = row.get(name)
            cell = ws.cell(row=r, column=c)
            if isinstance(value, bool) or value is None:
                cell.value = text_cell(value) if value is not None else None
            elif isinstance(value, (int, Decimal)):
                cell.value = value
                if isinstance(value, Decimal):
                    cell.number_format = "0.00" if value.as_tuple().exponent == -2 else "General"
            else:
                # Text is set as a string cell: openpyxl would store "=…" as a formula.
                cell.value = text_cell(value)
                cell.data_type = TYPE_STRING
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
