"""The daily care run, for one business day (Beijing), set-based over every dealer:

1. dealers whose contact's birthday or whose cooperation anniversary is today are greeted, once a
   year (a unique key per dealer, occasion and day); the service file's offers that hold for the
   dealer's tier and years credit points to the points ledger in the same statement set (source
   `care`, unique per event), so a retried run gives nothing twice; the offers beyond points are
   kept in `care_offers` (unique per event, kind and program): a coupon-like credit is booked on the
   dealer's account (source `care_offer`, unique per offer) with its reason, and a rebate program's
   anniversary extra is granted when that program pays one for these years (otherwise the reason
   it does not is kept);
2. account managers are told of tomorrow's birthdays and anniversaries of their dealers;
3. a contact task is opened for every active dealer with an account manager whose last contact (or,
   without one, the start of cooperation) is older than its tier's cadence; managers get one
   notification a day with how many they have.

A 29 February birthday is celebrated on 28 February in other years."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
import json
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from dealerflow.service.rules import ruleset as service_rules
from dealerflow.shared import rulebook

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


_OFFERS = text("""
    with rows as (
        select * from unnest(cast(:dealers as int[]), cast(:occasions as text[]), cast(:kinds as text[]),
                             cast(:programs as text[]), cast(:amounts as numeric[]), cast(:rates as numeric[]),
                             cast(:applies as boolean[]), cast(:explanations as text[]))
                 as r(dealer_id, occasion, kind, program, amount, rate, applies, explanation)
    ), given as (
        insert into care_offers (event_id, dealer_id, kind, program, amount, rate, applies, explanation, created_at)
        select e.id, r.dealer_id, r.kind, r.program, r.amount, r.rate, r.applies, cast(r.explanation as jsonb), now()
        from rows r join care_events e on e.dealer_id = r.dealer_id and e.occasion = r.occasion and e.on_date = :day
        on conflict on constraint care_offer_once do nothing
        returning id, dealer_id, kind, amount, applies, explanation
    ), booked as (
        insert into account_entries (dealer_id, kind, amount, value_date, source_type, source_id, note, created_at)
        select dealer_id, 'rebate', -amount, :day, 'care_offer', id::text, explanation->>'reason', now()
        from given where kind = 'credit'
        on conflict on constraint account_entry_once do nothing
        returning -amount as amount
    ), told as (
        insert into notifications (recipient_dealer_id, kind, title, body, link, dedup_key, created_at)
        select dealer_id, 'care', explanation->>'reason', '',
               case kind when 'credit' then '/console/account' else '/console/statements' end, 'care-offer:' || id, now()
        from given where applies
        on conflict (dedup_key) do nothing
    )
    select (select count(*) from given), (select coalesce(sum(amount), 0) from booked)""").bindparams(
    bindparam("dealers"), bindparam("occasions"), bindparam("kinds"), bindparam("programs"), bindparam("amounts"),
    bindparam("rates"), bindparam("applies"), bindparam("explanations"))

OCCASION = {"birthday": "Birthday", "anniversary": "Anniversary"}


def _rebate_extra(session: Session, program: str, years: int) -> tuple[bool, Decimal | None, dict]:
    """Whether the deployed rebate program pays its anniversary extra for these years, and why."""
    try:
        compiled = rulebook.active(session, program)
    except rulebook.UnknownRuleset:
        return False, None, {"reason": f"no rebate program '{program}' is deployed"}
    spec = compiled.rule_file.spec
    base = {"program": program, "version": compiled.version}
    if compiled.rule_file.kind != "rebate":
        return False, None, {**base, "reason": f"'{program}' is a {compiled.rule_file.kind} rule file, not a rebate"}
    if spec.anniversary_rate is None:
        return False, None, {**base, "reason": f"rebate program '{program}' has no anniversary extra"}
    if years not in spec.anniversary_years:
        listed = ", ".join(map(str, spec.anniversary_years))
        return False, None, {**base, "reason": f"rebate program '{program}' pays its anniversary extra for {listed}"
                                               f" years of cooperation, not {years}"}
    rate = spec.anniversary_rate
    return True, rate, {**base, "rate": f"{rate * 100:.2f}%",
                        "reason": f"{years}-year anniversary: {spec.title} adds {rate * 100:.2f}% of the period's"
                                  f" measure at its settlement"}


def _offers(session: Session, spec, rows: list, day: date) -> tuple[int, Decimal]:
    """The credits and rebate extras of the day's occasions, given once per event."""
    cols = {k: [] for k in ("dealers", "occasions", "kinds", "programs", "amounts", "rates", "applies", "explanations")}

    def add(r, kind, program, amount, rate, applies, explanation):
        for k, v in zip(cols, (r.id, r.occasion, kind, program, amount, rate, applies,
                               json.dumps({"rule_file": spec.id, "occasion": r.occasion, "tier": r.tier,
                                           "years": r.years, **explanation}, ensure_ascii=False))):
            cols[k].append(v)

    extras: dict = {}
    for r in rows:
        credit = spec.care_credit(r.occasion, r.tier, r.years or 0)
        if credit:
            add(r, "credit", "", credit, None, True,
                {"amount": f"{credit:.2f}", "reason": f"{OCCASION[r.occasion]} care credit ¥{credit:,.2f}"
                                                      + (f" ({r.years} years)" if r.years else "")})
        for program in spec.care_rebate_extras(r.occasion, r.tier, r.years or 0):
            if (program, r.years) not in extras:
                extras[(program, r.years)] = _rebate_extra(session, program, r.years or 0)
            applies, rate, why = extras[(program, r.years)]
            add(r, "rebate_extra", program, None, rate, applies, why)
    if not cols["dealers"]:
        return 0, Decimal("0.00")
    given, credited = session.execute(_OFFERS, {**cols, "day": day}).one()
    return int(given), Decimal(credited)


@dataclass
class CareDay:
    day: date
    greeted: int = 0
    points: int = 0
    offers: int = 0
    credited: Decimal = Decimal("0.00")
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
        out.offers, out.credited = _offers(session, spec, rows, day)
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
