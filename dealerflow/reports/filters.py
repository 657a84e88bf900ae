"""The filters every report takes: a period (a month, a quarter, a year, or from–to dates), the last
period and the same period a year earlier, a region and a product category. Dates are business
days in China time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dealerflow.core import periods
from dealerflow.core.errors import Invalid
from dealerflow.models import Dealer, Product
from dealerflow.shared.accounts import CHINA, day_start

MAX_DAYS = 366  # a from–to span: at most a year


class FilterError(Invalid):
    pass


@dataclass(frozen=True)
class Span:
    start: date
    end: date  # the last day, inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return day_start(self.start)

    @property
    def until(self) -> datetime:  # exclusive
        return day_start(self.end + timedelta(days=1))

    def as_dict(self) -> dict:
        return {"from": self.start, "to": self.end}


@dataclass(frozen=True)
class Filters:
    kind: str  # month | quarter | year | range
    key: str  # 2026-07, 2026-Q3, 2026, or 2026-07-01..2026-07-15
    current: Span
    previous: Span  # the period before (a range: the same number of days just before)
    year_ago: Span  # the same period a year earlier
    region: str | None = None
    category: str | None = None

    def as_dict(self) -> dict:
        return {"period": self.key, "kind": self.kind, "current": self.current.as_dict(),
                "previous": self.previous.as_dict(), "year_ago": self.year_ago.as_dict(),
                "region": self.region, "category": self.category}


def today_in_china(now: datetime | None = None) -> date:
    return (now or datetime.now(CHINA)).astimezone(CHINA).date()


def _date(raw: str, field: str) -> date:
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise FilterError(f"{raw!r} is not a date: write 2026-07-01", field=field) from None


def make(session: Session, *, period: str | None = None, date_from: str | None = None, date_to: str | None = None,
         region: str | None = None, category: str | None = None, today: date | None = None) -> Filters:
    """Filters from a request's parameters; each bad one is an Invalid naming it (`period`, `from`,
    `to`, `region`, `category`). No period and no dates: this month."""
    today = today or today_in_china()
    if period and (date_from or date_to):
        raise FilterError("give either a period or from and to, not both", field="period")
    if date_from or date_to:
        if not date_from:
            raise FilterError("from is required with to", field="from")
        if not date_to:
            raise FilterError("to is required with from", field="to")
        start, end = _date(date_from, "from"), _date(date_to, "to")
        if end < start:
            raise FilterError(f"{end} is before from ({start})", field="to")
        if (end - start).days + 1 > MAX_DAYS:
            raise FilterError(f"a report covers at most {MAX_DAYS} days", field="to")
        current = Span(start, end)
        length = timedelta(days=current.days)
        previous = Span(start - length, start - timedelta(days=1))
        kind, key = "range", f"{start}..{end}"
    else:
        try:
            p = periods.parse(period) if period else periods.period_of("month", today)
        except periods.PeriodError as e:
            raise FilterError(e.message, field="period") from None
        current = Span(p.start, p.end)
        before = periods.period_of(p.kind, p.start - timedelta(days=1))
        previous = Span(before.start, before.end)
        kind, key = p.kind, p.key
    year_ago = Span(periods.year_before(current.start), periods.year_before(current.end))
    region = _label(session, region, "region", Dealer.region)
    category = _label(session, category, "category", Product.category)
    return Filters(kind, key, current, previous, year_ago, region, category)


def _label(session: Session, value: str | None, field: str, column) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > 64 or any(ord(c) < 32 for c in value):
        raise FilterError(f"not a {field}", field=field)
    if not session.scalar(select(exists().where(column == value))):
        raise FilterError(f"no {field} {value!r}", field=field)
    return value


def ids_param(dealer_ids: Sequence[int] | None) -> list[int] | None:
    return None if dealer_ids is None else sorted(set(int(i) for i in dealer_ids))
