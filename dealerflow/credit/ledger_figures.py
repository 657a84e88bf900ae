"""What the dealer's ledger says about its payment behaviour, computed in the database.

An invoice is a positive entry of `account_entries` (a delivery); it falls due `payment_terms_days`
after its value date. Every negative entry (payment, return, rebate, converted points) pays the
invoices first in, first out: an invoice is paid when the running sum of the credits reaches the
running sum of the invoices up to it, and it is paid on the value date of that credit. From that one
allocation — window functions over the ledger, no loop and no stored number — come receivables,
overdue days (the oldest unpaid invoice past its due date), the overdue ratio, days sales
outstanding, amount-weighted days paid late (PAYDEX-like) and its trend, utilisation of the limit
and months of history. One statement answers for every dealer (the monthly run) or for one dealer
through the `account_dealer_date` index (the credit decision at order time)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

ZERO = Decimal("0.00")
DSO_DAYS = 90  # days sales outstanding over the sales of the last 90 days

# :upto — entries with value dates before it count; :on — the day overdue days are measured on;
# :y1 — a year before :on; :m3, :m6 — three and six months before :on; :s90 — 90 days before :on.
# Amounts are summed and sorted as whole cents (bigint), a good deal faster than numeric.
_FIGURES = """
with run as (
    -- the running sums of each dealer's invoices and of its credits, each in value-date order
    select dealer_id, kind, value_date, cents, cents > 0 as invoice,
           sum(abs(cents)) over (partition by dealer_id, cents > 0 order by value_date, id) as pos
    from (select dealer_id, kind, value_date, id, cast(amount * 100 as bigint) as cents from account_entries
          where value_date < :upto {only} and amount <> 0) e
),
paid as (
    -- an invoice is paid on the first credit whose running sum reaches the invoice's: walking the
    -- positions downwards (credits before invoices at the same position), the smallest credit date
    -- seen so far, as credit dates rise with their sums
    select r.dealer_id, r.kind, r.invoice, r.pos, r.value_date, r.cents,
           min(case when not r.invoice then r.value_date end)
               over (partition by r.dealer_id order by r.pos desc, r.invoice
                     rows between unbounded preceding and current row) as paid_on,
           coalesce(max(case when not r.invoice then r.pos end) over (partition by r.dealer_id), 0) as credited
    from run r
),
owed as (
    select p.*, p.value_date + d.payment_terms_days as due,
           greatest(0, least(p.cents, p.pos - p.credited)) as unpaid  -- what is left of an invoice
    from paid p join dealers d on d.id = p.dealer_id
)
select dealer_id, sum(cents) / 100.0 as receivables, min(value_date) as first_day,
       coalesce(sum(cents) filter (where kind in ('delivery', 'return') and value_date >= :y1), 0) / 100.0
           as purchases,
       min(due) filter (where invoice and paid_on is null) as oldest_due,
       coalesce(sum(unpaid) filter (where invoice), 0) / 100.0 as open_amount,
       coalesce(sum(unpaid) filter (where invoice and due < :on), 0) / 100.0 as overdue_amount,
       coalesce(sum(cents) filter (where invoice and value_date >= :s90), 0) / 100.0 as sales_90d,
       -- amount-weighted days late: invoices paid in the last 12 months, and the open ones past due
       -- for the days they have run so far; the same over the last 3 months and the 3 before
       sum(cents * greatest(0, paid_on - due)) filter (where invoice and paid_on >= :y1) / 100.0 as late_paid,
       sum(cents) filter (where invoice and paid_on >= :y1) / 100.0 as weight_paid,
       sum(unpaid * (:on - due)) filter (where invoice and paid_on is null and due < :on) / 100.0 as late_open,
       sum(cents * greatest(0, paid_on - due)) filter (where invoice and paid_on >= :m3) / 100.0 as late_3,
       sum(cents) filter (where invoice and paid_on >= :m3) / 100.0 as weight_3,
       sum(cents * greatest(0, paid_on - due)) filter (where invoice and paid_on >= :m6 and paid_on < :m3)
           / 100.0 as late_6,
       sum(cents) filter (where invoice and paid_on >= :m6 and paid_on < :m3) / 100.0 as weight_6
from owed
group by dealer_id
"""

ALL = text(_FIGURES.format(only=""))
ONE = text(_FIGURES.format(only="and dealer_id = :dealer"))

_LIVE = text("""
with e as (select id, value_date, amount from account_entries where dealer_id = :dealer and value_date <= :on),
inv as (select value_date, sum(amount) over (order by value_date, id) as pos from e where amount > 0)
select (select coalesce(sum(amount), 0) from e) as receivables,
       (select min(value_date) from inv where pos > (select coalesce(-sum(amount), 0) from e where amount < 0))
           as oldest_unpaid""")


@dataclass(frozen=True)
class Exposure:
    """What the ledger says a dealer owes today, read live by the credit decision."""
    receivables: Decimal
    overdue_days: int
    oldest_unpaid: date | None  # value date of the oldest invoice not yet paid in full


def live(session: Session, *, dealer_id: int, terms_days: int, on: date) -> Exposure:
    """Receivables and overdue days of one dealer on `on` (entries up to and including it): one
    indexed read of its ledger."""
    row = session.execute(_LIVE, {"dealer": dealer_id, "on": on}).one()
    overdue = max(0, (on - (row.oldest_unpaid + timedelta(days=terms_days))).days) if row.oldest_unpaid else 0
    return Exposure(Decimal(row.receivables).quantize(ZERO), overdue, row.oldest_unpaid)


def months_between(start: date, end: date) -> int:
    return max(0, (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0))


def _months_before(day: date, n: int) -> date:
    m = day.year * 12 + day.month - 1 - n
    year, month = divmod(m, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last))


def params(on: date, *, upto: date | None = None) -> dict:
    return {"upto": upto or on, "on": on, "y1": _months_before(on, 12), "m3": _months_before(on, 3),
            "m6": _months_before(on, 6), "s90": on - timedelta(days=DSO_DAYS)}


def _ratio(a, b) -> Decimal | None:
    return Decimal(a) / Decimal(b) if b else None


def shape(row, *, on: date, credit_limit: Decimal) -> dict:
    """One dealer's figures (kinds.credit_score.CREDIT_FIGURES) from its row; None: nothing to measure."""
    if row is None:
        return {"receivables": ZERO, "overdue_days": 0, "overdue_amount": ZERO, "overdue_ratio": Decimal(0),
                "dso": None, "days_late": None, "days_late_trend": None, "utilisation": Decimal(0) if credit_limit
                else None, "months_of_history": 0, "purchases": ZERO, "monthly_purchases": ZERO}
    receivables = Decimal(row.receivables).quantize(ZERO)
    open_amount, overdue_amount = Decimal(row.open_amount or 0), Decimal(row.overdue_amount or 0)
    late = (row.late_paid or 0) + (row.late_open or 0)
    weight = (row.weight_paid or 0) + (overdue_amount if row.late_open else 0)
    late_3, late_6 = _ratio(row.late_3 or 0, row.weight_3), _ratio(row.late_6 or 0, row.weight_6)
    purchases = Decimal(row.purchases).quantize(ZERO)
    return {
        "receivables": receivables,
        "overdue_days": max(0, (on - row.oldest_due).days) if row.oldest_due else 0,
        "overdue_amount": overdue_amount.quantize(ZERO),
        "overdue_ratio": _ratio(overdue_amount, open_amount) if open_amount else Decimal(0),
        "dso": (max(receivables, ZERO) * DSO_DAYS / Decimal(row.sales_90d)) if row.sales_90d else None,
        "days_late": _ratio(late, weight),
        "days_late_trend": late_3 - late_6 if late_3 is not None and late_6 is not None else None,
        "utilisation": _ratio(max(receivables, ZERO), credit_limit),
        "months_of_history": months_between(row.first_day, on),
        "purchases": purchases,
        "monthly_purchases": (max(purchases, ZERO) / 12).quantize(ZERO),
    }


# The statement sorts the whole ledger twice: room for that in memory, for this transaction only.
WORK_MEM = "256MB"


def all_dealers(session: Session, on: date) -> dict[int, object]:
    """dealer id → its row of figures (dealers without entries have none), before `on`."""
    session.execute(text(f"set local work_mem = '{WORK_MEM}'"))
    return {r.dealer_id: r for r in session.execute(ALL, params(on))}


def one_dealer(session: Session, dealer_id: int, on: date, *, upto: date | None = None):
    return session.execute(ONE, {**params(on, upto=upto), "dealer": dealer_id}).first()
