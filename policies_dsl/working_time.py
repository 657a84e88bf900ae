"""Working time on China's calendar: the public holidays and the make-up working weekends (调休) from
`chinese_calendar`, working hours from a rule file. A target of 24 working hours filed at 17:00 on
the eve of the National Day week runs one hour that day, then from the first working day after it —
a make-up Saturday included.

Years the package has no data for yet fall back to Monday to Friday (no holidays): the package is
updated each year after the State Council publishes the next year's arrangement."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

CHINA = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 3 * 366  # a target never runs further than this; a bound, not a business rule


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package does not know yet
        return day.weekday() < 5


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
