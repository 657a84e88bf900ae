"""Anti-diversion credit points: every dealer starts with 100; a confirmed diversion case takes
points by its severity and a clean quarter gives some back (rules/diversion.yaml says how many).
The balance is a dealer fact (`dealer.credit_points`) that credit approval, policy targeting and
rebate eligibility read. Entries name their source, unique in the ledger: exactly once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.shared import accounts
from dealerflow.core import periods
from dealerflow.models import CreditPointsEntry

START = 100


def balance_of(dealer_id_column):
    """A scalar SQL expression: the balance of the dealer in `dealer_id_column`."""
    total = select(func.coalesce(func.sum(CreditPointsEntry.points), 0)).where(
        CreditPointsEntry.dealer_id == dealer_id_column).scalar_subquery()
    return (START + total).cast(Integer)


def balance(session: Session, dealer_id: int) -> int:
    return START + int(session.scalar(select(func.coalesce(func.sum(CreditPointsEntry.points), 0))
                                      .where(CreditPointsEntry.dealer_id == dealer_id)))


def balances(session: Session, dealer_ids: list[int] | None = None) -> dict[int, int]:
    """dealer id → balance, for dealers with entries (every other dealer has START)."""
    q = select(CreditPointsEntry.dealer_id, func.sum(CreditPointsEntry.points)).group_by(CreditPointsEntry.dealer_id)
    if dealer_ids is not None:
        q = q.where(CreditPointsEntry.dealer_id.in_(dealer_ids))
    return {dealer_id: START + int(total) for dealer_id, total in session.execute(q)}


def book(session: Session, *, dealer_id: int, points: int, reason: str, source_type: str, source_id: str) -> bool:
    """One entry; False when its source was booked before."""
    done = session.execute(insert(CreditPointsEntry).values(
        dealer_id=dealer_id, points=points, reason=reason[:300], source_type=source_type, source_id=source_id)
        .on_conflict_do_nothing(constraint="credit_points_once").returning(CreditPointsEntry.id))
    return done.first() is not None


_EARN_BACK = text("""
    insert into credit_points (dealer_id, points, reason, source_type, source_id)
    select b.dealer_id, least(:points, :up_to - b.balance), :reason, 'clean_quarter', b.dealer_id || ':' || :quarter
    from (select dealer_id, :start + sum(points) as balance from credit_points group by dealer_id) b
    where b.balance < :up_to
      and not exists (select 1 from diversion_cases c where c.dealer_id = b.dealer_id and c.status = 'confirmed'
                      and c.resolved_at >= :since)
    on conflict (source_type, source_id) do nothing""").bindparams(bindparam("points", type_=Integer))


def earn_back(session: Session, *, now: datetime, points: int, up_to: int) -> int:
    """Dealers below `up_to` with no case confirmed since the start of the last closed quarter get
    `points` back (never above `up_to`): once per dealer and quarter, whenever this runs. A case
    confirmed after the quarter counts too, so a penalty is never followed by points for the
    quarter before it. Returns how many dealers got points."""
    if points <= 0:
        return 0
    quarter = periods.last_closed("quarter", accounts.business_date(now))
    return session.execute(_EARN_BACK, {
        "points": points, "up_to": up_to, "start": START, "quarter": quarter.key,
        "since": accounts.day_start(quarter.start), "reason": f"no confirmed diversion case in {quarter.key}"}).rowcount
