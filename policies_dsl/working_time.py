"""Working time on China's calendar: the public holidays and the make-up working weekends (调休) from
`chinese_calendar`, working hours from a rule file. A target of 24 working hours filed at 17:00 on
the eve of the National Day week runs one hour that day, then from the first working day after it —
a make-up Saturday included.

Years the package has no data for yet fall back to Monday to Friday (no holidays): the package is
updated each year after the State Council publishes the next year's arrangement. The fallback is
not silent: it is logged once per year and process (`calendar_gaps` names the years for a page)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
import logging
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

CHINA = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 3 * 366  # a target never runs further than this; a bound, not a business rule


log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def year_known(year: int) -> bool:
    """Whether chinese_calendar has the holidays and make-up working days of `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        return True
    except NotImplementedError:
        return False


def gap_note(year: int) -> str:
    return f"holidays for {year} not known: Monday to Friday assumed"


@lru_cache(maxsize=64)
def _warn(year: int) -> None:
    """Once per year and process: the cache is the memory of having warned."""
    log.warning("chinese_calendar %s has no %s: %s (update the package once the State Council publishes it)",
                getattr(chinese_calendar, "__version__", "?"), year, gap_note(year))


def calendar_gaps(first: date, last: date) -> list[int]:
    """The years from `first` to `last` the package does not know (their days are Monday to Friday)."""
    return [y for y in range(first.year, last.year + 1) if not year_known(y)]


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    if not year_known(day.year):  # a year the package does not know yet
        _warn(day.year)
        return day.weekday() < 5
    return chinese_calendar.is_workday(day)


@dataclass(frozen=True)
class WorkingCalendar:
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    @property
    def day_seconds(self) -> int:
        return (self.closes.hour * 3600 + self.closes.minute * 60) - (self.opens.hour * 3600 + self.opens.minute * 60)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, CHINA), datetime.combine(day, self.closes, CHINA))

    def add(self, start: datetime, seconds: int) -> datetime:
        """The moment `seconds` of working time after `start` (timezone-aware; returned in UTC). Zero
        seconds from outside working hours is `start` itself: nothing is due before it."""
        if seconds <= 0:
            return start
        t = start.astimezone(CHINA)
        day = t.date()
        for _ in range(MAX_DAYS):
            if is_working_day(day):
                opens, closes = self._window(day)
                begin = max(t, opens)
                if begin < closes:
                    available = (closes - begin).total_seconds()
                    if seconds <= available:
                        return (begin + timedelta(seconds=seconds)).astimezone(start.tzinfo)
                    seconds -= int(available)
            day += timedelta(days=1)
            t = datetime.combine(day, time(0), CHINA)
        raise ValueError(f"working time runs beyond {MAX_DAYS} days")

    def between(self, start: datetime, end: datetime) -> int:
        """Working seconds from `start` to `end` (0 when end is not after start)."""
        if end <= start:
            return 0
        a, b = start.astimezone(CHINA), end.astimezone(CHINA)
        total, day = 0, a.date()
        for _ in range(MAX_DAYS + 1):
            if day > b.date():
                break
            if is_working_day(day):
                opens, closes = self._window(day)
                lo, hi = max(a, opens), min(b, closes)
                if hi > lo:
                    total += int((hi - lo).total_seconds())
            day += timedelta(days=1)
        return total


def parse_clock(text: str) -> time:
    """'09:00' → time(9, 0); the schema has checked the form."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
