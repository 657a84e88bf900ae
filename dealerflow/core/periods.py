"""Settlement periods: a month (2026-07), a quarter (2026-Q3) or a year (2026), as business dates in
China time. Pure: used by the API, the activities and the schedule trigger alike."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import Invalid

MONTHS = {"month": 1, "quarter": 3, "year": 12}
_KEY = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$")


class PeriodError(Invalid):
    pass


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter | year
    start: date
    end: date  # the last day, inclusive

    @property
    def key(self) -> str:
        if self.kind == "year":
            return f"{self.start.year}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    def contains(self, other: "Period") -> bool:
        return self.start <= other.start and other.end <= self.end

    def parts(self, kind: str) -> list["Period"]:
        """The sub-periods of `kind` that make up this period, in order."""
        out, day = [], self.start
        while day <= self.end:
            part = period_of(kind, day)
            out.append(part)
            day = part.end + timedelta(days=1)
        return out


def period_of(kind: str, day: date) -> Period:
    months = MONTHS[kind]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    end_month = first_month + months
    end = (date(day.year + 1, 1, 1) if end_month > 12 else date(day.year, end_month, 1)) - timedelta(days=1)
    return Period(kind, start, end)


def parse(key: str) -> Period:
    m = _KEY.match(key or "")
    if not m:
        raise PeriodError(f"{key!r} is not a period: write 2026-07 (a month), 2026-Q3 (a quarter) or 2026 (a year)")
    year = int(m["year"])
    if m["quarter"]:
        return period_of("quarter", date(year, (int(m["quarter"]) - 1) * 3 + 1, 1))
    if m["month"]:
        return period_of("month", date(year, int(m["month"]), 1))
    return period_of("year", date(year, 1, 1))


def last_closed(kind: str, today: date) -> Period:
    """The latest period of `kind` that ended before `today`."""
    return period_of(kind, period_of(kind, today).start - timedelta(days=1))


def year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def anniversary_in(joined: date, start: date, end: date) -> int:
    """Which cooperation anniversary (1st, 2nd, …) falls within [start, end]; 0 when none does."""
    for year in range(start.year, end.year + 1):
        n = year - joined.year
        if n < 1:
            continue
        try:
            day = joined.replace(year=year)
        except ValueError:  # joined on 29 February
            day = date(year, 2, 28)
        if start <= day <= end:
            return n
    return 0


def full_years(joined: date, on: date) -> int:
    return on.year - joined.year - ((on.month, on.day) < (joined.month, joined.day))
