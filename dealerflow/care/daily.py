"""The daily care run, for one business day (Beijing), set-based over every dealer:

1. dealers whose contact's birthday or whose cooperation anniversary is today are greeted, once a
   year (a unique key per dealer, occasion and day); the service file's offers that hold for the
   dealer's tier and years credit points to the points ledger in the same statement set (source
   `care`, unique per event), so a retried run gives nothing twice;
2. account managers are told of tomorrow's birthdays and anniversaries of their dealers;
3. a contact task is opened for every active dealer with an account manager whose last contact (or,
   without one, the start of cooperation) is older than its tier's cadence; managers get one
   notification a day with how many they have.

A 29 February birthday is celebrated on 28 February in other years."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from dealerflow.service.rules import ruleset as service_rules

_DUE = text("""
    select d.id, 'birthday' as occasion, d.tier, null::int as years, d.account_manager
    from dealers d
    where d.status = 'active' and d.contact_birthday is not null
      and ((extract(month from d.contact_birthday) = :m and extract(day from d.contact_birthday) = :d)
           or (:feb28 and extract(month from d.contact_birthday) = 2 and extract(day from d.contact_birthday) = 29))
    union all
    select d.id, 'anniversary', d.tier, (:y - extract(year from d.cooperation_since))::int, d.account_manager
    from dealers d
    where d.status = 'active' and d.cooperation_since < :day
      and ((extract(month from d.cooperation_since) = :m and extract(day from d.cooperation_since) = :d)
           or (:feb28 and extract(month from d.cooperation_since) = 2 and extract(day from d.cooperation_since) = 29))""")

_GREET = text("""
    with rows as (
        select * from unnest(cast(:dealers as int[]), cast(:occasions as text[]), cast(:years as int[]),
                             cast(:points as int[])) as r(dealer_id, occasion, years, points)
    ), events as (
        insert into care_events (dealer_id, occasion, on_date, years, points, created_at)
        select dealer_id, occasion, :day, years, points, now() from rows
        on conflict on constraint care_once do nothing
        returning id, dealer_id, occasion, years, points
    ), credited as (
        insert into points_ledger (dealer_id, points, reason, source_type, source_id, created_at)
        select dealer_id, points,
               case occasion when 'birthday' then 'Birthday greeting' else years || '-year anniversary' end,
               'care', id::text, now()
        from events where points > 0
        on conflict on constraint points_once do nothing
    )
    insert into notifications (recipient_dealer_id, kind, title, body, link, dedup_key, created_at)
    select dealer_id, 'care',
           case occasion when 'birthday' then 'Happy birthday from your brand!'
                else 'Thank you for ' || years || ' years together!' end,
           case when points > 0 then points || ' points have been added to your account.' else '' end,
           '/console/policy-tasks#points', 'care:' || id, now()
    from events
    on conflict (dedup_key) do nothing
    returning 1""").bindparams(bindparam("dealers"), bindparam("occasions"), bindparam("years"), bindparam("points"))

_EVE = text("""
    insert into notifications (recipient_user_id, kind, title, body, link, dedup_key, created_at)
    select u.id, 'care',
           case r.occasion when 'birthday' then 'Tomorrow: the birthday of ' || coalesce(d.contact_name, 'the contact')
                || ' of ' || d.name
                else 'Tomorrow: ' || r.years || ' years of cooperation with ' || d.name end,
           '', '/console/care', 'care-eve:' || r.occasion || ':' || d.id || ':' || :tomorrow, now()
    from unnest(cast(:dealers as int[]), cast(:occasions as text[]), cast(:years as int[]))
         as r(dealer_id, occasion, years)
    join dealers d on d.id = r.dealer_id
    join users u on u.username = d.account_manager and u.role = 'account_manager' and u.active
    on conflict (dedup_key) do nothing
    returning 1""").bindparams(bindparam("dealers"), bindparam("occasions"), bindparam("years"))

_CONTACT_TASKS = text("""
    with cadence as (select * from unnest(cast(:tiers as text[]), cast(:days as int[])) as c(tier, days)),
    latest as (select dealer_id, max(at) as at from dealer_contacts group by dealer_id),
    due as (
        select d.id, d.account_manager,
               coalesce(((l.at at time zone 'Asia/Shanghai')::date), d.cooperation_since) + c.days as due_on
        from dealers d join cadence c on c.tier = d.tier
        left join latest l on l.dealer_id = d.id
        where d.status = 'active' and d.account_manager is not null
          and not exists (select 1 from contact_tasks t where t.dealer_id = d.id and t.status = 'open')
    ), opened as (
        insert into contact_tasks (dealer_id, account_manager, due_on, status, created_at)
        select id, account_manager, due_on, 'open', now() from due where due_on <= :day
        on conflict do nothing
        returning account_manager
    ), told as (
        insert into notifications (recipient_user_id, kind, title, body, link, dedup_key, created_at)
        select u.id, 'care', count(*) || ' dealers to contact', '', '/console/care',
               'care-contacts:' || u.id || ':' || :day, now()
        from opened o join users u on u.username = o.account_manager and u.role = 'account_manager'
        group by u.id
        on conflict (dedup_key) do nothing
    )
    select count(*) from opened""").bindparams(bindparam("tiers"), bindparam("days"))


@dataclass
class CareDay:
    day: date
    greeted: int = 0
    points: int = 0
    told_eve: int = 0
    contact_tasks: int = 0


def _due(session: Session, day: date) -> list:
    feb28 = day.month == 2 and day.day == 28 and not calendar.isleap(day.year)
    return session.execute(_DUE, {"m": day.month, "d": day.day, "y": day.year, "day": day, "feb28": feb28}).all()


def run_day(session: Session, day: date) -> CareDay:
    _, spec = service_rules(session)
    out = CareDay(day)
    rows = _due(session, day)
    if rows:
        points = [spec.care_points(r.occasion, r.tier, r.years or 0) for r in rows]
        out.greeted = len(session.execute(_GREET, {
            "dealers": [r.id for r in rows], "occasions": [r.occasion for r in rows],
            "years": [r.years for r in rows], "points": points, "day": day}).all())
        out.points = sum(points) if out.greeted else 0
    tomorrow = day + timedelta(days=1)
    eve = _due(session, tomorrow)
    if eve:
        out.told_eve = len(session.execute(_EVE, {
            "dealers": [r.id for r in eve], "occasions": [r.occasion for r in eve], "years": [r.years for r in eve],
            "tomorrow": tomorrow.isoformat()}).all())
    if spec.cadence:
        tiers = list(spec.cadence)
        out.contact_tasks = session.execute(_CONTACT_TASKS, {
            "tiers": tiers, "days": [max(1, spec.cadence[t] // 86400) for t in tiers], "day": day}).scalar_one()
    return out
