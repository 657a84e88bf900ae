"""Reading what people and systems upload: text checked before it is parsed (a workbook, an image or
UTF-16 is named, not misread), CSV tables with the line each row starts on, and the values every
import shares (times, amounts) with messages a person can act on. Used by every import."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from dealerflow.core.errors import Unsupported
from dealerflow.shared.accounts import day_start

_MAGIC = ((b"PK\x03\x04", "an Excel workbook or a zip archive"), (b"\xd0\xcf\x11\xe0", "an Excel 97 workbook"),
          (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"))


class NotText(Unsupported):
    """The upload is not UTF-8 text (a workbook, an image, UTF-16…): nothing of it was read."""


class BadValue(ValueError):
    """One cell that cannot be read; `kind` is invalid, or unknown where it names nothing we know."""

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


def text_of(data: bytes, *, expected: str = "CSV", save_as: str = "\"CSV UTF-8\"") -> str:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise NotText(f"the upload is {what}, not {expected}: save it as {save_as}")
    if b"\x00" in data:
        raise NotText(f"the upload is binary or UTF-16, not {expected}: save it as {save_as}")
    try:
        return data.decode("utf-8-sig")  # Excel starts a UTF-8 CSV with a byte order mark
    except UnicodeDecodeError as e:
        raise NotText(f"the upload is not UTF-8 text (byte {e.start}): save it as {save_as}") from None


@dataclass
class Table:
    """A CSV file: the header's names (lower case, trimmed), then the rows that fit it with their lines."""
    header_line: int  # 0: the file has no header
    names: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    misfits: list[tuple[int, int]] = field(default_factory=list)  # (line, cells) of rows with more cells than names


def read_table(content: str) -> Table:
    """Blank lines are skipped; a row with fewer cells than the header leaves the rest out."""
    reader = csv.reader(io.StringIO(content, newline=""))
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        return Table(0, [])
    table = Table(reader.line_num, [cell.strip().lower() for cell in header])
    start = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            if len(cells) > len(table.names):
                table.misfits.append((start, len(cells)))
            else:
                table.rows.append(dict(zip(table.names, cells)))
                table.lines.append(start)
        start = reader.line_num + 1
    return table


_AMOUNT = re.compile(r"^(\d+)(?:\.(\d+))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(raw: str) -> datetime:
    """ISO 8601 with a UTC offset, or a date: the start of that day in China."""
    if _DATE.match(raw):
        try:
            return day_start(date.fromisoformat(raw))
        except ValueError:
            raise BadValue(f"no such date {raw!r}") from None
    try:
        at = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "Zz" else raw)
    except ValueError:
        raise BadValue(f"expected an ISO 8601 time with offset (2026-03-05T14:30:00+08:00) or a date "
                       f"(2026-03-05), got {raw!r}") from None
    if at.tzinfo is None:
        raise BadValue(f"{raw!r} has no UTC offset: add one (+08:00 for China) or give a date")
    try:
        at.astimezone(timezone.utc)  # 0001-01-01T00:00:00+14:00 is before the first instant there is
    except OverflowError:
        raise BadValue(f"{raw!r} is out of range") from None
    return at


def parse_amount(raw: str) -> Decimal:
    """A positive amount of money with at most 2 decimals and 12 digits before the point (the columns' size)."""
    m = _AMOUNT.match(raw)
    if m is None:
        if raw.startswith("-") and _AMOUNT.match(raw[1:]):
            raise BadValue(f"must be greater than 0, got {raw!r}")
        raise BadValue(f"expected an amount like 1250.00, got {raw!r}")
    whole, cents = m.groups()
    if cents is not None and len(cents) > 2:
        raise BadValue(f"expected an amount with at most 2 decimals, got {raw!r}")
    if len(whole.lstrip("0")) > 12:
        raise BadValue(f"too large: at most 12 digits before the decimal point, got {raw!r}")
    amount = Decimal(raw).quantize(Decimal("0.01"))
    if amount <= 0:
        raise BadValue(f"must be greater than 0, got {raw!r}")
    return amount


XLSX_MAGIC = b"PK\x03\x04"
MAX_CELLS = 2_000_000  # a workbook is unzipped in memory: a bound on what one import may hold


def read_sheet(data: bytes) -> Table:
    """The first sheet of an XLSX workbook as a Table (header on its first non-empty row; rows by
    their sheet row number; dates as ISO dates, whole numbers without a decimal point)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile, KeyError and XML errors for a damaged file
        raise Unsupported(f"the upload is not a readable XLSX workbook ({type(e).__name__}): save it as Excel"
                          " Workbook (.xlsx) or CSV UTF-8") from None
    try:
        sheet = book.worksheets[0]
        table, cells = None, 0
        for n, values in enumerate(sheet.iter_rows(values_only=True), 1):
            texts = [_cell_text(v) for v in values]
            cells += len(texts)
            if cells > MAX_CELLS:
                raise Unsupported(f"the workbook holds more than {MAX_CELLS:,} cells: split it or send CSV")
            if not any(t.strip() for t in texts):
                continue
            if table is None:
                while texts and not texts[-1].strip():
                    texts.pop()
                table = Table(n, [t.strip().lower() for t in texts])
                continue
            while len(texts) > len(table.names) and not texts[-1].strip():
                texts.pop()
            if len(texts) > len(table.names):
                table.misfits.append((n, len(texts)))
            else:
                table.rows.append(dict(zip(table.names, texts)))
                table.lines.append(n)
        return table or Table(0, [])
    finally:
        book.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
