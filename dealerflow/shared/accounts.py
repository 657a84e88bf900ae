"""The dealer's account (what the dealer owes the manufacturer) as a ledger of entries. Deliveries
add; returns, payments, rebates and converted points subtract. Each entry names its source and the
database refuses a second entry for the same source, so booking is idempotent under any retry."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.models import AccountEntry

# Business days are China's: an order delivered at 00:30 Beijing time belongs to that day.
CHINA = timezone(timedelta(hours=8))
# The sign each kind of entry carries on the account.
SIGN = {"delivery": 1, "return": -1, "payment": -1, "rebate": -1, "points": -1}


def business_date(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def day_start(day: date) -> datetime:
    """The first instant of a business day, for comparing timestamps with day boundaries."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def entry(*, dealer_id: int, kind: str, amount: Decimal, value_date: date, source_type: str, source_id: str,
          note: str = "") -> dict:
    """One ledger row; `amount` is given positive and signed here by its kind."""
    return dict(dealer_id=dealer_id, kind=kind, amount=SIGN[kind] * amount, value_date=value_date,
                source_type=source_type, source_id=source_id, note=note)


def book(session: Session, rows: list[dict]) -> int:
    """Insert entries; a source already booked is skipped. Returns how many were new."""
    if not rows:
        return 0
    result = session.execute(insert(AccountEntry).on_conflict_do_nothing(constraint="account_entry_once")
                             .returning(AccountEntry.id), rows)
    return len(result.all())


def balance(session: Session, dealer_id: int, *, before: date) -> Decimal:
    return Decimal(session.scalar(select(func.coalesce(func.sum(AccountEntry.amount), 0)).where(
        AccountEntry.dealer_id == dealer_id, AccountEntry.value_date < before)))
