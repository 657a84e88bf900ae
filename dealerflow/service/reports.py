"""SLA reports of dealer requests: targets met and breached by tier, region, category and the person
who answers; satisfaction; the open backlog by age. Each is one grouped query over the requests a
caller may see (the caller passes its scope as a condition on the dealer)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from dealerflow.models import ServiceClock, ServiceRequest, User
from policies_dsl.working_time import CHINA, calendar_gaps, gap_note

DIMENSIONS = ("tier", "region", "category", "person")
AGES = ((0, 1, "under 1 day"), (1, 3, "1 to 3 days"), (3, 7, "3 to 7 days"), (7, None, "over 7 days"))


def _key(dimension: str, user_table):
    return {"tier": ServiceRequest.tier, "region": ServiceRequest.region, "category": ServiceRequest.category,
            "person": func.coalesce(user_table.username, ServiceRequest.assignee_role)}[dimension]


def sla_by(session: Session, dimension: str, *, since: datetime, until: datetime,
           scope: ColumnElement | None = None) -> list[dict]:
    """Requests filed in [since, until) grouped by `dimension`: how many, closed, each target met or
    breached (a clock past its due time counts as breached while it runs), satisfaction."""
    response, resolution = aliased(ServiceClock), aliased(ServiceClock)
    person = aliased(User)
    key = _key(dimension, person).label("key")

    def met(c):
        return func.count().filter(c.met.is_(True))

    def breached(c):
        return func.count().filter(or_(c.breached_at.is_not(None), c.met.is_(False)))
    q = (select(key, func.count().label("requests"),
                func.count().filter(ServiceRequest.status == "closed").label("closed"),
                met(response).label("response_met"), breached(response).label("response_breached"),
                met(resolution).label("resolution_met"), breached(resolution).label("resolution_breached"),
                func.avg(ServiceRequest.satisfaction).label("satisfaction"),
                func.count(ServiceRequest.rated_at).label("rated"))
         .join(response, and_(response.request_id == ServiceRequest.id, response.clock == "response"))
         .join(resolution, and_(resolution.request_id == ServiceRequest.id, resolution.clock == "resolution"))
         .outerjoin(person, person.id == ServiceRequest.assignee_user_id)
         .where(ServiceRequest.created_at >= since, ServiceRequest.created_at < until)
         .group_by(key).order_by(key))
    if scope is not None:
        q = q.where(scope)
    out = []
    for r in session.execute(q):
        decided = r.resolution_met + r.resolution_breached
        out.append({"key": r.key, "requests": r.requests, "closed": r.closed, "response_met": r.response_met,
                    "response_breached": r.response_breached, "resolution_met": r.resolution_met,
                    "resolution_breached": r.resolution_breached,
                    "met_rate": round(r.resolution_met / decided, 4) if decided else None,
                    "satisfaction": round(float(r.satisfaction), 2) if r.satisfaction is not None else None,
                    "rated": r.rated})
    return out


def backlog(session: Session, *, now: datetime, scope: ColumnElement | None = None) -> list[dict]:
    """Open requests by age (calendar days since filing), and how many of them are past a target."""
    age = now - ServiceRequest.created_at
    bucket = case(*[(and_(age >= timedelta(days=lo), *( [age < timedelta(days=hi)] if hi else [])), literal(label))
                    for lo, hi, label in AGES], else_=literal(AGES[-1][2])).label("age")
    past = select(ServiceClock.request_id).where(ServiceClock.breached_at.is_not(None),
                                                 ServiceClock.stopped_at.is_(None)).distinct()
    q = (select(bucket, func.count().label("open"),
                func.count().filter(ServiceRequest.id.in_(past)).label("breached"))
         .where(ServiceRequest.status != "closed").group_by(bucket))
    if scope is not None:
        q = q.where(scope)
    counts = {r.age: (r.open, r.breached) for r in session.execute(q)}
    return [{"age": label, "open": counts.get(label, (0, 0))[0], "breached": counts.get(label, (0, 0))[1]}
            for _, _, label in AGES]


def calendar_notes(session: Session, *, since: datetime, until: datetime, now: datetime,
                   scope: ColumnElement | None = None) -> tuple[list[int], list[str]]:
    """The years the report's clocks run in — its period, today, and the latest due time of an open
    request — that China's calendar package does not know: their targets ran on Monday to Friday."""
    q = (select(func.max(ServiceClock.due_at)).join(ServiceRequest, ServiceRequest.id == ServiceClock.request_id)
         .where(ServiceClock.stopped_at.is_(None), ServiceRequest.status != "closed"))
    if scope is not None:
        q = q.where(scope)
    latest = max(x for x in (session.scalar(q), until - timedelta(microseconds=1), now) if x is not None)
    years = calendar_gaps(since.astimezone(CHINA).date(), latest.astimezone(CHINA).date())
    return years, [gap_note(y) for y in years]


def report(session: Session, *, since: datetime, until: datetime, now: datetime,
           scope: ColumnElement | None = None) -> dict:
    by = {d: sla_by(session, d, since=since, until=until, scope=scope) for d in DIMENSIONS}
    unknown, notes = calendar_notes(session, since=since, until=until, now=now, scope=scope)
    rows = by["tier"]
    rated = sum(r["rated"] for r in rows)
    average = (sum((r["satisfaction"] or 0) * r["rated"] for r in rows) / rated) if rated else None
    return {"since": since, "until": until, **{f"by_{d}": v for d, v in by.items()},
            "totals": {k: sum(r[k] for r in rows) for k in ("requests", "closed", "response_met", "response_breached",
                                                            "resolution_met", "resolution_breached", "rated")},
            "satisfaction": round(average, 2) if average is not None else None,
            "backlog": backlog(session, now=now, scope=scope), "calendar_unknown_years": unknown,
            "calendar_notes": notes}


COLUMNS = ("section", "key", "requests", "closed", "response_met", "response_breached", "resolution_met",
           "resolution_breached", "met_rate", "satisfaction", "rated", "open", "past_a_target")


def export_rows(data: dict) -> list[dict]:
    """The report as one table for CSV and XLSX: a section per dimension, the totals, the backlog by age
    and, last, any year whose holidays were not known."""
    rows = [{"section": d, **r} for d in DIMENSIONS for r in data[f"by_{d}"]]
    rows.append({"section": "total", "key": "all", **data["totals"], "satisfaction": data["satisfaction"]})
    rows += [{"section": "backlog", "key": b["age"], "open": b["open"], "past_a_target": b["breached"]}
             for b in data["backlog"]]
    rows += [{"section": "calendar", "key": note} for note in data["calendar_notes"]]
    return rows
