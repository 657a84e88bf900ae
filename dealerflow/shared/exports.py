"""Spreadsheet exports: the one way the platform writes CSV.

A cell a spreadsheet would read as a formula (CSV injection: a dealer name or a dispute reason
starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, so Excel
and WPS show it as text. Plain numbers (`-120.00`) stay numbers. Files are UTF-8 with a byte-order
mark, which Excel on Chinese Windows needs to read them as UTF-8 rather than GBK."""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"


def csv_cell(value) -> str:
    """One cell, neutralised: text that starts like a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal)):
        return str(value)
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
