"""Spreadsheet exports: the one way the platform writes CSV.

A cell a spreadsheet would read as a formula (CSV injection: a dealer name or a dispute reason
starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, so Excel
and WPS show it as text. Plain numbers (`-120.00`) stay numbers. Files are UTF-8 with a byte-order
mark, which Excel on Chinese Windows needs to read them as UTF-8 rather than GBK. XLSX (openpyxl) for
what people open in Excel: text is stored as text, never as a formula; numbers stay numbers."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_cell(value) -> str:
    """One cell, neutralised: text that starts like a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"  # never 1E+2
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_csv(rows: Iterable[Iterable]) -> str:
    """The rows as CSV text, every cell through csv_cell, starting with the UTF-8 byte-order mark."""
    out = io.StringIO()
    out.write(BOM)
    w = csv.writer(out)
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def table_csv(columns: Sequence[str], rows: Sequence[dict]) -> bytes:
    """Rows of named values as a CSV file, a header row of the names first."""
    return write_csv([list(columns), *([row.get(c) for c in columns] for row in rows)]).encode("utf-8")


def table_xlsx(columns: Sequence[str], rows: Sequence[dict], *, title: str) -> bytes:
    """Rows of named values as a workbook of one sheet, a header row of the names first."""
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(columns))
    for r, row in enumerate(rows, start=2):
        for c, name in enumerate(columns, start=1):
            value = row.get(name)
            cell = ws.cell(row=r, column=c)
            if value is None:
                continue
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                cell.value = value
                if isinstance(value, Decimal):
                    cell.number_format = "0.00" if value.as_tuple().exponent == -2 else "General"
            else:  # set as a string cell: openpyxl would store "=…" as a formula
                # control characters a worksheet cannot hold (a name pasted with them) are shown as �
                cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", csv_cell(value))
                cell.data_type = TYPE_STRING
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
