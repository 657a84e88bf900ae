"""Health figures for every dealer × sku of a day, in one set-based statement.

Stock is the last current report on or before the day plus what moved after it — deliveries, less
returns to HQ, less sell-through — and says so: `reported` when nothing moved since the report
(its age is kept beside it), `estimated` when movements were added to it or when the dealer never
reported (movements of the history span alone). Sell-through counts the POS/ERP feed of a day, or
that day's sale scans when it has no feed, never both.

- turnover days = stock ÷ average daily sell-through over the rule file's span (None: nothing sold);
- days of cover = (stock + in transit) ÷ daily demand: the latest dealer forecast, else the average;
- sell-through rate (动销率) = sold ÷ (opening stock + received), where opening + received is
  closing + sold + returned over the same span;
- slow-moving value: the stock value of pairs turning slower than the file's first overstock
  threshold (or not selling at all);
- stock age: days since the dealer's coded units still unsold were bound to it (batches known);
- orders of the product in the last four full months, and how many months in a row they rose.

Cost: each pair's last report is found first, into a temporary table; the sell-through is then
read once, each row meeting its pair's report as it is read, and summed straight into the pair's
two figures (sold since the report, sold in the window), into a second temporary table the insert
reads. Only the recent sell-through is read (the averaging window, and at least RECENT_DAYS): a
report older than the days read, or a pair never reported (both rare), reads its older days by the
key. A run of one slice makes both temporary tables on parallel workers (an INSERT … SELECT runs on
one process). Orders are read once for deliveries and monthly orders; each line's day and month and
each pair's figures are worked out once, and the insert writes in key order (plainly the first
time: `compute`). A run measures its dealers in slices at once (`slice` of `slices`, by dealer id),
so a run that one database process would carry alone uses as many as it has slices."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from dealerflow.shared.accounts import day_start

RECENT_DAYS = 35  # sell-through read whole at least this far back: a dealer's reports are newer
HISTORY_DAYS = 400  # movements read for an estimate: a report older than this counts only what followed

_HEALTH_SQL = """
with last_report as (select dealer_id, product_id, day, on_hand, in_transit from pg_temp.inventory_last_report),
sold as (select dealer_id, product_id, since, win from pg_temp.inventory_sold),
sold_stale as (  -- the days after a report older than the days read (rare: by the key's index, per pair)
    select lr.dealer_id, lr.product_id, sum(s.quantity) as q
    from last_report lr join sell_through s on s.dealer_id = lr.dealer_id and s.product_id = lr.product_id
         and s.day > lr.day and s.day <= :recent_day
    where lr.day < :recent_day and {counted}
    group by 1, 2),
lines as (  -- deliveries and the months' orders: one read of orders × lines (offset 0: each day and
            -- month worked out once a line, not once for each sum that reads it)
    select o.dealer_id, l.product_id, l.quantity,
           case when o.delivered_at >= :hist_from and o.delivered_at < :end
                then (o.delivered_at at time zone 'Asia/Shanghai')::date end as delivered_day,
           case when o.created_at >= :m4 and o.created_at < :this_month and o.status not in ('rejected', 'cancelled')
                then case when o.created_at < :m3 then 4 when o.created_at < :m2 then 3
                          when o.created_at < :m1 then 2 else 1 end end as month
    from orders o join order_lines l on l.order_id = o.id
    where ((o.delivered_at >= :hist_from and o.delivered_at < :end)
           or (o.created_at >= :m4 and o.created_at < :this_month)) {of_o}
    offset 0),
moved as (
    select m.dealer_id, m.product_id,
           coalesce(sum(m.quantity) filter (where m.delivered_day > lr.day
                                            or (lr.day is null and m.delivered_day is not null)), 0) as since,
           coalesce(sum(m.quantity) filter (where m.delivered_day > :win_day), 0) as win,
           coalesce(sum(m.quantity) filter (where m.month = 4), 0) as o4,
           coalesce(sum(m.quantity) filter (where m.month = 3), 0) as o3,
           coalesce(sum(m.quantity) filter (where m.month = 2), 0) as o2,
           coalesce(sum(m.quantity) filter (where m.month = 1), 0) as o1
    from lines m left join last_report lr on lr.dealer_id = m.dealer_id and lr.product_id = m.product_id
    group by 1, 2),
returned as (
    select r.dealer_id, r.product_id,
           sum(r.quantity) filter (where lr.day is null
                                   or (r.returned_at at time zone 'Asia/Shanghai')::date > lr.day) as since,
           sum(r.quantity) filter (where r.returned_at >= :win_from) as win
    from order_returns r
    left join last_report lr on lr.dealer_id = r.dealer_id and lr.product_id = r.product_id
    where r.returned_at >= :hist_from and r.returned_at < :end {of_rt}
    group by 1, 2),
forecast as (
    select distinct on (dealer_id, product_id) dealer_id, product_id, daily
    from demand_forecasts where scope = 'dealer' and fitted_on <= :day and fitted_on > :forecast_from
    order by dealer_id, product_id, fitted_on desc),
aged as (
    select pc.dealer_id, pc.product_id, (avg(extract(epoch from (:end - pc.bound_at))) / 86400)::int as age
    from product_codes pc
    where pc.bound_at is not null {of_pc}
      and not exists (select 1 from scans s where s.code = pc.code and s.kind = 'sale')
    group by 1, 2),
figures as (  -- offset 0: each figure worked out once a pair, not once for each use below
    select k.dealer_id, k.product_id, d.region,
           greatest(coalesce(k.on_hand, 0) + coalesce(k.delivered_since, 0) - coalesce(rt.since, 0)
                    - coalesce(k.sold_since, 0), 0)::int as on_hand,
           coalesce(k.in_transit, 0) as in_transit, k.report_day,
           coalesce(k.delivered_since, 0) + coalesce(rt.since, 0) + coalesce(k.sold_since, 0) as moved_since,
           coalesce(k.sold, 0) as sold, coalesce(k.delivered, 0) as delivered, coalesce(rt.win, 0) as returned,
           round(coalesce(k.sold, 0)::numeric / :avg_days, 4) as daily_sales, f.daily as forecast,
           coalesce(k.o4, 0) as o4, coalesce(k.o3, 0) as o3, coalesce(k.o2, 0) as o2, coalesce(k.o1, 0) as o1,
           pr.unit_price, a.age
    from (select dealer_id, product_id, lr.day as report_day, lr.on_hand, lr.in_transit,
                 coalesce(sd.since, 0) + coalesce(st.q, 0) + case when lr.day is null then coalesce((
                     select sum(s.quantity) from sell_through s  -- a pair never reported: its days
                     where s.dealer_id = coalesce(sd.dealer_id, mv.dealer_id)  -- before the recent ones (rare)
                       and s.product_id = coalesce(sd.product_id, mv.product_id)
                       and s.day > :hist_day and s.day <= :recent_day and {counted}), 0)
                 else 0 end as sold_since,
                 sd.win as sold, mv.since as delivered_since, mv.win as delivered, mv.o4, mv.o3, mv.o2, mv.o1
          from last_report lr full join sold sd using (dealer_id, product_id)
          full join moved mv using (dealer_id, product_id)
          left join sold_stale st using (dealer_id, product_id)  -- a report's pair: lr's key
          offset 0) k  -- each pair's sold_since worked out once
    join dealers d on d.id = k.dealer_id and d.status = 'active' {of_d}
    join products pr on pr.id = k.product_id
    left join returned rt on rt.dealer_id = k.dealer_id and rt.product_id = k.product_id
    left join forecast f on f.dealer_id = k.dealer_id and f.product_id = k.product_id
    left join aged a on a.dealer_id = k.dealer_id and a.product_id = k.product_id
    offset 0)
insert into inventory_health (day, dealer_id, product_id, region, on_hand, in_transit, source, report_day,
    report_age_days, sold, received, daily_sales, daily_demand, demand_source, turnover_days, cover_days,
    sell_through_rate, stock_value, slow_value, stock_age_days, orders_by_month, rising_months)
select :day, dealer_id, product_id, region, on_hand, in_transit,
       case when report_day is not null and moved_since = 0 then 'reported' else 'estimated' end,
       report_day, :day - report_day, sold, delivered - returned, daily_sales,
       coalesce(forecast, daily_sales), case when forecast is not null then 'forecast' else 'history' end,
       case when daily_sales > 0 then least(round(on_hand / daily_sales, 1), 999999) end,
       case when coalesce(forecast, daily_sales) > 0
            then least(round((on_hand + in_transit) / coalesce(forecast, daily_sales), 1), 999999) end,
       case when on_hand + sold + returned > 0 then round(sold::numeric / (on_hand + sold + returned), 4) end,
       on_hand * unit_price,
       case when on_hand > 0 and (daily_sales = 0 or on_hand / daily_sales > :slow_over)
            then on_hand * unit_price else 0 end,
       age, array[o4, o3, o2, o1]::int[],
       case when o1 > o2 and o2 > o3 and o3 > o4 then 3 when o1 > o2 and o2 > o3 then 2 when o1 > o2 then 1 else 0 end
from figures f
where on_hand > 0 or in_transit > 0 or sold > 0 or delivered > 0 or report_day is not null
order by dealer_id, product_id
{skip_stored}"""


# Each pair's latest current report, hashed (no sort): every statement after it reads it.
_LAST_REPORT_SQL = """
create temporary table inventory_last_report on commit drop as
select dealer_id, product_id, date '2000-01-01' + m[1] as day, m[2] as on_hand, m[3] as in_transit
from (select r.dealer_id, r.product_id, max(array[r.day - date '2000-01-01', r.on_hand, r.in_transit]) as m
      from stock_reports r
      where r.current and r.day <= :day and r.day > :hist_day {of_r}
      group by 1, 2) latest"""

# The heaviest read, the sell-through history, in its own statement: a CREATE TABLE AS may use
# parallel workers where an INSERT … SELECT may not. Each row meets its pair's report as it is read
# and is summed straight into the pair's two figures: sold since the report, and sold in the window.
# A day's feed counts; a day's scans (few, by their own index) only where it has no feed. Only the
# recent days are read (after :recent_day): older days count only for a pair whose report is older
# than that or that has none, and the statement reads those by the key.
_SOLD_SQL = """
create temporary table inventory_sold on commit drop as
select s.dealer_id, s.product_id,
       coalesce(sum(s.quantity) filter (where lr.day is null or s.day > lr.day), 0) as since,
       coalesce(sum(s.quantity) filter (where s.day > :win_day), 0) as win
from (select s.dealer_id, s.product_id, s.day, s.quantity from sell_through s
      where s.source = 'feed' and s.day > :recent_day and s.day <= :day {of_s}
      union all
      select s.dealer_id, s.product_id, s.day, s.quantity from sell_through s
      where s.source = 'scan' and s.day > :recent_day and s.day <= :day {of_s} and not exists (
          select 1 from sell_through f where f.dealer_id = s.dealer_id and f.product_id = s.product_id
          and f.day = s.day and f.source = 'feed')) s
left join pg_temp.inventory_last_report lr on lr.dealer_id = s.dealer_id and lr.product_id = s.product_id
group by 1, 2"""

# A sell-through row read by the key counts when it is the day's feed, or the day's scans with no feed.
_COUNTED = """(s.source = 'feed' or not exists (
    select 1 from sell_through f where f.dealer_id = s.dealer_id and f.product_id = s.product_id
    and f.day = s.day and f.source = 'feed'))"""

# A run reads the dealers of its scope (every region, or one) and of its slice: dealers whose id
# leaves `slice` over `slices`, so a run's slices can be measured at once on as many connections.
_IN_REGION = "and {col} in (select id from dealers where region = :region)"
_IN_SLICE = "and {col} % :slices = :slice"


def _narrowed(col: str, scoped: bool, sliced: bool) -> str:
    return (_IN_REGION.format(col=col) if scoped else "") + (" " + _IN_SLICE.format(col=col) if sliced else "")


def statement(region: str | None, slices: int = 1, first: bool = False):
    """The statement for every dealer, or with each read narrowed to a region's dealers and to a slice
    of them (it reads the sell-through `prepare` leaves). The `first` figures of a slice on a day
    are inserted plainly; after any, the insert skips the pairs stored."""
    return _STATEMENTS[region is not None, slices > 1, first]


def prepare(session: Session, params: dict) -> None:
    """The statement's settings, each pair's last report and its recent sell-through, summed (on
    parallel workers when the run is not sliced)."""
    for setting in SETTINGS:
        session.execute(text(setting))
    variant = params["region"] is not None, params["slices"] > 1
    parallel = PARALLEL if params["slices"] == 1 else ALONE
    for name, value in parallel.items():
        session.execute(text(f"set local {name} = {value}"))
    for table, statement in (("inventory_last_report", _LAST_REPORT), ("inventory_sold", _SOLD)):
        session.execute(text(f"drop table if exists pg_temp.{table}"))
        session.execute(statement[variant], params)
        session.execute(text(f"analyze pg_temp.{table}"))
    for name in parallel:
        session.execute(text(f"set local {name} to default"))


_VARIANTS = [(scoped, sliced) for scoped in (False, True) for sliced in (False, True)]
_STATEMENTS = {
    (scoped, sliced, first): text(_HEALTH_SQL.format(
        of_o=_narrowed("o.dealer_id", scoped, sliced),
        of_rt=_narrowed("r.dealer_id", scoped, sliced), of_pc=_narrowed("pc.dealer_id", scoped, sliced),
        counted=_COUNTED,
        of_d=("and d.region = :region" if scoped else "") + (" " + _IN_SLICE.format(col="d.id") if sliced else ""),
        skip_stored="" if first else "on conflict (day, dealer_id, product_id) do nothing"))
    for scoped, sliced in _VARIANTS for first in (False, True)}
# Whether a slice has figures for the day (a retry, a region's run of the same day): see `compute`.
_SLICE_MEASURED = text("""select 1 from inventory_health where day = :day and dealer_id % :slices = :slice
                          and (cast(:region as text) is null or region = :region) limit 1""")
_LAST_REPORT = {(scoped, sliced): text(_LAST_REPORT_SQL.format(of_r=_narrowed("r.dealer_id", scoped, sliced)))
                for scoped, sliced in _VARIANTS}
_SOLD = {(scoped, sliced): text(_SOLD_SQL.format(of_s=_narrowed("s.dealer_id", scoped, sliced)))
         for scoped, sliced in _VARIANTS}

WORK_MEM = "256MB"  # the statement's hash tables stay in memory for millions of pairs
# The planner cannot size the CTEs (it takes a million pairs' moves for a few thousand): it would sort
# them, or walk the history in index order to group or merge-join it. Hash aggregates and hash joins
# read each table once; indexes stay for the few probes (a scan row's feed, a stale report's days).
SETTINGS = (f"set local work_mem = '{WORK_MEM}'", "set local enable_mergejoin = off", "set local enable_sort = off",
            "set local enable_incremental_sort = off")
# Grouping millions of rows into one group per pair gains from workers, though the planner,
# charging each group's row passed back from a worker, would not use them: those rows are cheap.
PARALLEL = {"parallel_tuple_cost": 0, "parallel_setup_cost": 0}
# A sliced run has its slices on the cores already; workers would only add a pass: each slice's
# workers hold parts of every pair, so their groups are summed again (measured: 2 slices 33–41 s
# at full scale without workers, 44–48 s with them).
ALONE = {"max_parallel_workers_per_gather": 0}


def months_back(day: date, n: int) -> date:
    m = day.year * 12 + day.month - 1 - n
    return date(m // 12, m % 12 + 1, 1)


def parameters(*, day: date, region: str | None, average_over_days: int, slow_over: Decimal | None,
               slice: int = 0, slices: int = 1) -> dict:
    this_month = months_back(day, 0)
    return {
        "day": day, "region": region, "slice": slice, "slices": slices, "end": day_start(day + timedelta(days=1)),
        "hist_day": day - timedelta(days=HISTORY_DAYS), "hist_from": day_start(day - timedelta(days=HISTORY_DAYS - 1)),
        "win_day": day - timedelta(days=average_over_days), "avg_days": average_over_days,
        "win_from": day_start(day - timedelta(days=average_over_days - 1)),
        "recent_day": day - timedelta(days=min(HISTORY_DAYS, max(average_over_days, RECENT_DAYS))),
        "forecast_from": day - timedelta(days=14), "slow_over": slow_over if slow_over is not None else 999999,
        "this_month": day_start(this_month), "m4": day_start(months_back(day, 4)),
        "m3": day_start(months_back(day, 3)), "m2": day_start(months_back(day, 2)), "m1": day_start(months_back(day, 1)),
    }


def compute(session: Session, *, day: date, region: str | None, average_over_days: int,
            slow_over: Decimal | None, slice: int = 0, slices: int = 1) -> int:
    """Write the day's figures for every dealer × sku (of a region, of a slice of its dealers): one
    statement. A day computed before keeps its rows: once a slice has figures for the day, the insert
    skips a pair the day has (by its key, one probe a row, whatever the planner believes of the
    table), so the same day twice writes nothing new, and runs of the same day (a region's, the
    whole) may overlap. A slice's first figures go in plainly, without that probe's cost: two
    attempts at once collide on the key, and the retry skips what is stored."""
    params = parameters(day=day, region=region, average_over_days=average_over_days, slow_over=slow_over,
                        slice=slice, slices=slices)
    first = session.scalar(_SLICE_MEASURED, params) is None
    prepare(session, params)
    return session.execute(statement(region, slices, first), params).rowcount
