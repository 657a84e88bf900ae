"""SLA clocks of a request on the working calendar, and the sweep that reminds and escalates.

Each request has two clocks, first response and resolution, counted in working seconds: a clock
keeps the working time used up to the moment it last started running (`running_since`), so pausing
(a status the rule file lists, e.g. waiting for the dealer) adds the working time run and clears the
due time; resuming sets the due time again from what is left. When the dealer's tier changes, the
working time already used counts against the new tier's target from that moment — if it has run
out already, the request is due at once.

Nothing here sleeps: the sweep (one scheduled workflow for all requests) finds the clocks whose
reminder or due time has come with the partial indexes on those columns, and reminds, marks the
breach and escalates the request's human task in a few set-based statements."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from dealerflow.contracts import ServiceSweepResult
from dealerflow.models import Dealer, HumanTask, ServiceClock, ServiceEvent, ServiceRequest
from policies_dsl import CompiledRuleset
from policies_dsl.kinds.service import ServiceSpec, Target, terms

from .rules import record_shadows, with_shadows


def _target_of(clock: ServiceClock, target: Target) -> int:
    return target.response if clock.clock == "response" else target.resolution


def _settle(clock: ServiceClock, spec: ServiceSpec, now: datetime) -> None:
    """Add the working time run since the clock last started, and restart it from now."""
    if clock.running_since is not None:
        clock.used_s += spec.calendar.between(clock.running_since, now)
        clock.running_since = now


def _schedule(clock: ServiceClock, spec: ServiceSpec) -> None:
    """Due and reminder times of a running clock from the working time it has left."""
    if clock.running_since is None or clock.stopped_at is not None:
        clock.due_at = clock.remind_at = None
        return
    left = max(clock.target_s - clock.used_s, 0)
    clock.due_at = spec.calendar.add(clock.running_since, left)
    clock.remind_at = (spec.calendar.add(clock.running_since, max(left - spec.remind_before, 0))
                       if spec.remind_before and clock.reminded_at is None and clock.clock == "resolution" else None)


def start(session: Session, request: ServiceRequest, spec: ServiceSpec, target: Target, now: datetime) -> list:
    clocks = []
    for name in ("response", "resolution"):
        c = ServiceClock(request_id=request.id, clock=name, tier=request.tier, used_s=0, running_since=now)
        c.target_s = _target_of(c, target)
        _schedule(c, spec)
        session.add(c)
        clocks.append(c)
    return clocks


def clocks_of(session: Session, request_id, *, lock: bool = True) -> dict[str, ServiceClock]:
    q = select(ServiceClock).where(ServiceClock.request_id == request_id)
    return {c.clock: c for c in session.scalars(q.with_for_update() if lock else q)}


def pause(session: Session, request: ServiceRequest, spec: ServiceSpec, now: datetime) -> None:
    for c in clocks_of(session, request.id).values():
        if c.stopped_at is None and c.running_since is not None:
            _settle(c, spec, now)
            c.running_since = None
            _schedule(c, spec)
    _sync_task(session, request)


def resume(session: Session, request: ServiceRequest, spec: ServiceSpec, now: datetime) -> None:
    for c in clocks_of(session, request.id).values():
        if c.stopped_at is None and c.running_since is None:
            c.running_since = now
            _schedule(c, spec)
    _sync_task(session, request)


def stop(session: Session, request: ServiceRequest, spec: ServiceSpec, now: datetime, *,
         clocks: tuple = ("response", "resolution")) -> None:
    for c in clocks_of(session, request.id).values():
        if c.clock in clocks and c.stopped_at is None:
            _settle(c, spec, now)
            c.running_since, c.stopped_at = None, now
            c.met = c.used_s <= c.target_s
            _schedule(c, spec)
    _sync_task(session, request)


def restart_resolution(session: Session, request: ServiceRequest, spec: ServiceSpec, now: datetime) -> None:
    """A reopened request: the resolution clock runs on from the working time it had used."""
    c = clocks_of(session, request.id)["resolution"]
    c.stopped_at, c.met, c.running_since = None, None, now
    _schedule(c, spec)


def retarget(session: Session, request: ServiceRequest, ruleset: CompiledRuleset, spec: ServiceSpec, tier: str,
             now: datetime, *, actor: str = "system", shadows: list = ()) -> bool:
    """The dealer's tier changed: the new tier's targets apply from now, with the working time used
    (any shadow version's targets for the new tier are stored beside them, never applied)."""
    if request.tier == tier:
        return False
    t = terms(ruleset, spec, category=request.category, tier=tier)
    target = t.target
    record_shadows(session, list(shadows), subject=f"{request.number}:retargeted:{now.isoformat()}", live=ruleset,
                   t=t, context={"region": request.region, "tier": tier, "from_tier": request.tier,
                                 "category": request.category, "request": str(request.id)})
    before = {}
    for c in clocks_of(session, request.id).values():
        before[c.clock] = c.target_s
        c.tier = tier
        if c.stopped_at is not None:
            continue
        _settle(c, spec, now)
        c.target_s = _target_of(c, target)
        _schedule(c, spec)
    session.add(ServiceEvent(request_id=request.id, actor=actor, action="retargeted",
                             detail={"from": request.tier, "to": tier, "targets_before": before,
                                     "targets_after": {"response": target.response, "resolution": target.resolution}}))
    request.tier = tier
    _sync_task(session, request)
    return True


def retarget_changed_tiers(session: Session, now: datetime, *, dealer_ids: list[int] | None = None,
                           limit: int = 5000) -> int:
    """Open requests of dealers whose tier is no longer the one their targets run on: retargeted.
    Called in the transaction that changes tiers, and by the sweep for any other change."""
    q = (select(ServiceRequest, Dealer.tier).join(Dealer, Dealer.id == ServiceRequest.dealer_id)
         .where(ServiceRequest.status != "closed", ServiceRequest.tier != Dealer.tier)
         .order_by(ServiceRequest.created_at).limit(limit).with_for_update(of=ServiceRequest, skip_locked=True))
    if dealer_ids is not None:
        q = q.where(ServiceRequest.dealer_id.in_(dealer_ids))
    rows = session.execute(q).all()
    if not rows:
        return 0
    ruleset, spec, shadows = with_shadows(session)
    return sum(retarget(session, r, ruleset, spec, tier, now, shadows=shadows) for r, tier in rows)


def _sync_task(session: Session, request: ServiceRequest) -> None:
    """The human task shows the resolution due time (the inbox sorts by it)."""
    if request.task_id is None:
        return
    session.flush()
    due = session.scalar(select(ServiceClock.due_at).where(ServiceClock.request_id == request.id,
                                                         ServiceClock.clock == "resolution"))
    if due is not None:
        session.execute(update(HumanTask).where(HumanTask.id == request.task_id, HumanTask.status == "open")
                        .values(due_at=due))


# --- the sweep -----------------------------------------------------------------------------------

_REMIND = text("""
with due as (
    select c.request_id, c.clock from service_clocks c
    where c.stopped_at is null and c.reminded_at is null and c.remind_at <= :now
    order by c.remind_at limit :batch for update of c skip locked
), marked as (
    update service_clocks c set reminded_at = :now from due
    where c.request_id = due.request_id and c.clock = due.clock
    returning c.request_id, c.clock, c.due_at
), told as (
    insert into notifications (recipient_role, recipient_user_id, kind, title, body, link, dedup_key, created_at)
    select case when r.assignee_user_id is null then r.assignee_role end, r.assignee_user_id, 'reminder',
           'Due soon: request #' || r.number || ' ' || r.subject, '', '/console/service/' || r.id,
           'service-remind:' || r.id || ':' || m.clock || ':' || r.reopened, now()
    from marked m join service_requests r on r.id = m.request_id
    on conflict (dedup_key) do nothing
), logged as (
    insert into service_events (request_id, at, actor, action, detail)
    select m.request_id, :now, 'system', 'reminded', jsonb_build_object('clock', m.clock, 'due_at', m.due_at)
    from marked m
)
select count(*) from marked""")

_BREACH = text("""
with due as (
    select c.request_id, c.clock from service_clocks c
    where c.stopped_at is null and c.breached_at is null and c.due_at <= :now
    order by c.due_at limit :batch for update of c skip locked
), marked as (
    update service_clocks c set breached_at = :now from due
    where c.request_id = due.request_id and c.clock = due.clock
    returning c.request_id, c.clock, c.due_at
), requests as (
    select r.*, m.clock, m.due_at as clock_due from marked m join service_requests r on r.id = m.request_id
), escalated as (
    update human_tasks h set escalated_to_role = coalesce(h.escalated_to_role, q.escalate_to),
                             reminders_sent = h.reminders_sent + 1
    from requests q where h.id = q.task_id and h.status = 'open'
    returning h.id
), task_logged as (
    insert into task_events (task_id, at, actor, action, detail)
    select q.task_id, :now, 'system', 'escalated', jsonb_build_object('to', q.escalate_to, 'clock', q.clock)
    from requests q where q.task_id in (select id from escalated) and q.escalate_to is not null
), told_assignee as (
    insert into notifications (recipient_role, recipient_user_id, kind, title, body, link, dedup_key, created_at)
    select case when q.assignee_user_id is null then q.assignee_role end, q.assignee_user_id, 'reminder',
           'Overdue: request #' || q.number || ' ' || q.subject, '', '/console/service/' || q.id,
           'service-breach:' || q.id || ':' || q.clock || ':' || q.reopened, now()
    from requests q
    on conflict (dedup_key) do nothing
), told_escalation as (
    insert into notifications (recipient_role, kind, title, body, link, dedup_key, created_at)
    select q.escalate_to, 'escalation', 'Escalated to you: request #' || q.number || ' ' || q.subject ||
           ' is past its ' || case q.clock when 'response' then 'first-response' else 'resolution' end || ' target',
           '', '/console/service/' || q.id, 'service-escalated:' || q.id || ':' || q.clock || ':' || q.reopened, now()
    from requests q where q.escalate_to is not null
    on conflict (dedup_key) do nothing
), logged as (
    insert into service_events (request_id, at, actor, action, detail)
    select q.id, :now, 'system', 'breached', jsonb_build_object('clock', q.clock, 'due_at', q.clock_due,
                                                                'escalated_to', q.escalate_to)
    from requests q
)
select count(*) from marked""")


def sweep(session: Session, now: datetime, *, batch: int = 2000) -> ServiceSweepResult:
    """Retarget requests whose dealer changed tier, then remind and escalate what has come due; a
    batch of each. A retried sweep does nothing twice: each step stamps what it did."""
    retargeted = retarget_changed_tiers(session, now)
    session.flush()
    reminded = session.execute(_REMIND, {"now": now, "batch": batch}).scalar_one()
    breached = session.execute(_BREACH, {"now": now, "batch": batch}).scalar_one()
    return ServiceSweepResult(reminded=reminded, breached=breached, retargeted=retargeted)
