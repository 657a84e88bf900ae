"""Reading what people and systems upload: text checked before it is parsed (a workbook, an image or
UTF-16 is named, not misread), CSV tables with the line each row starts on, and the values every
import shares (times, amounts) with messages a person can act on. Used by every import."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Iterable
from datetime import date, datetime, timezone
from decimal import Decimal

from dealerflow.core.errors import Invalid, Unsupported
from dealerflow.shared.accounts import CHINA, day_start

_MAGIC = ((b"PK\x03\x04", "an Excel workbook or a zip archive"), (b"\xd0\xcf\x11\xe0", "an Excel 97 workbook"),
          (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"))


class NotText(Unsupported):
    """The upload is not UTF-8 text (a workbook, an image, UTF-16…): nothing of it was read."""


class BadValue(ValueError):
    """One cell that cannot be read; `kind` is invalid, or unknown where it names nothing we know."""

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


ENCODINGS = ("utf-8", "gb18030")  # what an import may be read as; GB18030 covers GBK and GB2312


def text_of(data: bytes, *, expected: str = "CSV", save_as: str = "\"CSV UTF-8\"", encoding: str = "utf-8") -> str:
    """The upload as text: UTF-8 with or without a byte order mark, or GB18030 when asked (what Excel
    on a Chinese Windows saves as plain "CSV")."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise NotText(f"the upload is {what}, not {expected}: save it as {save_as}")
    if b"\x00" in data:
        raise NotText(f"the upload is binary or UTF-16, not {expected}: save it as {save_as}")
    if encoding not in ENCODINGS:
        raise Unsupported(f"encoding {encoding!r} is not read here: {', '.join(ENCODINGS)}", field="encoding")
    try:
        if encoding == "gb18030":
            return data.decode("gb18030")
        return data.decode("utf-8-sig")  # Excel starts a UTF-8 CSV with a byte order mark
    except UnicodeDecodeError as e:
        hint = " (or send it with encoding=gb18030)" if encoding == "utf-8" else ""
        raise NotText(f"the upload is not {encoding.upper()} text (byte {e.start}): save it as {save_as}{hint}") \
            from None


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


@dataclass(frozen=True)
class Problem:
    row: int | None  # the CSV line, or the index in the JSON array
    field: str | None
    message: str
    # How a request about a single order answers it: invalid 422, unknown 404, conflict 409.
    kind: str = "invalid"


class BatchError(Invalid):
    """Every problem of a batch; nothing of it was written."""

    def __init__(self, problems: Iterable[Problem], *, unit: str):
        self.problems = sorted(problems, key=lambda p: p.row if p.row is not None else -1)
        self.unit = unit  # "line" (CSV) or "index" (JSON)
        shown = "; ".join(self.describe(p) for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"nothing recorded: {shown}{more}")

    def describe(self, p: Problem) -> str:
        """`line 7: order_id: unknown order 'abc'` or `[3].amount: must be greater than 0`."""
        if self.unit == "line":
            return ": ".join(str(x) for x in (f"line {p.row}" if p.row else None, p.field, p.message) if x)
        where = f"[{p.row}]" + (f".{p.field}" if p.field else "")
        return f"{where}: {p.message}"

    def detail(self, limit: int | None = None) -> list[dict]:
        return [{self.unit: p.row, "field": p.field, "message": p.message} for p in self.problems[:limit]]


MAX_SHEET_ROWS = 100_000


def is_workbook(data: bytes) -> bool:
    return data.startswith(XLSX_MAGIC)


def read_workbook(data: bytes, *, max_rows: int = MAX_SHEET_ROWS) -> Table:
    """The first sheet of an XLSX workbook as a Table (lines are the sheet's row numbers): numbers as
    written (1250.5, never 1250.5000000001), dates as 2026-03-05, formulas as their cached values."""
    table: Table | None = None
    for number, cells in sheet_rows(data):
        texts = list(cells)
        while texts and texts[-1] == "":
            texts.pop()
        if table is None:
            table = Table(number, [t.strip().lower() for t in texts])
            continue
        if len(table.rows) >= max_rows:
            raise Invalid(f"at most {max_rows} rows a sheet: split it", line=number)
        if len(texts) > len(table.names):
            table.misfits.append((number, len(texts)))
        else:
            table.rows.append(dict(zip(table.names, texts)))
            table.lines.append(number)
    return table or Table(0, [])


def read_upload_table(data: bytes, *, encoding: str = "utf-8") -> Table:
    """A CSV (in `encoding`) or an XLSX workbook, told apart by content."""
    return read_workbook(data) if is_workbook(data) else read_table(text_of(data, save_as="CSV UTF-8 or XLSX",
                                                                             encoding=encoding))


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


# --- spreadsheets and the encodings of Chinese Excel ------------------------------------------------

XLSX_MAGIC = b"PK\x03\x04"


def decode_text(data: bytes, *, expected: str = "CSV", save_as: str = "\"CSV UTF-8\"") -> str:
    """As `text_of`, and a file that is not UTF-8 is read as GB18030 (what Excel on a Chinese Windows
    saves as "CSV"), which covers GBK and GB2312."""
    try:
        return text_of(data, expected=expected, save_as=save_as)
    except NotText:
        if b"\x00" in data or any(data.startswith(magic) for magic, _ in _MAGIC):
            raise
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as e:
            raise NotText(f"the upload is neither UTF-8 nor GB18030 text (byte {e.start}): save it as {save_as}") \
                from None


def _cell_text(value) -> str:
    """A spreadsheet cell as the text a CSV export of it would hold: a time without a zone is Beijing
    time, a whole number has no decimals."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
                return value.date().isoformat()
            return value.replace(tzinfo=CHINA).isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):  # 15 significant digits, as Excel shows them: 0.1 + 0.2 is 0.3
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sheet_rows(data: bytes):
    """The first worksheet of an XLSX workbook as (row number, cells as text), blank rows skipped,
    read as a stream (a million rows without holding them). Raises NotText for a file that is no workbook."""
    import openpyxl  # only imports of spreadsheets pay for it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 — a zip that is no workbook, a damaged one: openpyxl raises many kinds
        raise NotText(f"the upload is not a readable XLSX workbook ({type(e).__name__})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        number = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001 — a sheet broken inside (bad XML, a cell of no known type)
                raise NotText(f"the workbook cannot be read after row {number} ({type(e).__name__})") from None
            number += 1
            cells = [_cell_text(v) for v in row]
            if any(c.strip() for c in cells):
                yield number, cells
    finally:
        book.close()
