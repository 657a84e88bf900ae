"""The console's page of the platform's scheduled processes (Temporal Schedules: what each runs, when,
its last and next runs) and of the notification outbox (HQ and admin)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleDescription

from dealerflow.models import ProcessFailure, RuleVersion
from dealerflow.shared import notifications

from api.diversion.temporal import DIVERSION_SCHEDULE
from api.orders.temporal import ORDER_SCHEDULE
from api.i18n import TIME_ZONE
from api.pages import ConsoleUser, page, require
from api.rebates.temporal import schedule_id_for
from api.credit.temporal import CREDIT_SCHEDULE
from api.tiering.temporal import TIERING_SCHEDULE

router = APIRouter(prefix="/console", include_in_schema=False)
log = logging.getLogger("dealerflow.api")
TEMPORAL_WAIT = 5.0  # seconds the page waits for Temporal before it says so
PURPOSES = ("tiering", "credit", "rebate", "diversion", "orders", "other")


@dataclass
class When:
    """A schedule's timing in words: every `every`, or on `day` of the month (or `weekday`s) at `time`."""
    every: str | None = None
    day: str | None = None
    weekday: str | None = None
    time: str | None = None
    local: str | None = None  # the time in the business time zone
    cron: str | None = None


@dataclass
class ScheduleRow:
    id: str
    purpose: str  # one of PURPOSES
    subject: str | None = None  # the rebate program
    workflow: str | None = None
    when: list[When] = field(default_factory=list)
    last_run: datetime | None = None
    last_workflow_id: str | None = None
    next_runs: list[datetime] = field(default_factory=list)
    paused: bool = False
    note: str | None = None
    missing: bool = False  # expected but not (yet) created


def _values(ranges) -> str | None:
    parts = []
    for r in ranges or ():
        end = max(r.end, r.start)
        parts.append(str(r.start) if end == r.start else f"{r.start}-{end}" + (f"/{r.step}" if r.step > 1 else ""))
    return ",".join(parts) or None


def _every(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _timing(description: ScheduleDescription) -> list[When]:
    spec = description.schedule.spec
    out = [When(every=_every(i.every)) for i in spec.intervals]
    for c in spec.calendars:
        hour, minute = _values(c.hour) or "0", _values(c.minute) or "0"
        day = _values(c.day_of_month)
        exact = hour.isdigit() and minute.isdigit()
        when = When(day=None if day in (None, "1-31") else day, weekday=_values(c.day_of_week),
                    time=f"{int(hour):02d}:{int(minute):02d}" if exact else f"{hour}:{minute}")
        if exact and not spec.time_zone_name:
            at = datetime(2026, 1, 1, int(hour), int(minute), tzinfo=timezone.utc).astimezone(TIME_ZONE)
            when.local = at.strftime("%H:%M")
        out.append(when)
    out += [When(cron=c) for c in spec.cron_expressions]
    return out


def _purpose(schedule_id: str) -> tuple[str, str | None]:
    if schedule_id == TIERING_SCHEDULE:
        return "tiering", None
    if schedule_id == CREDIT_SCHEDULE:
        return "credit", None
    if schedule_id == DIVERSION_SCHEDULE:
        return "diversion", None
    if schedule_id == ORDER_SCHEDULE:
        return "orders", None
    prefix = schedule_id_for("")
    if schedule_id.startswith(prefix):
        return "rebate", schedule_id[len(prefix):]
    return "other", None


async def _describe(client: Client, schedule_id: str) -> ScheduleRow:
    purpose, subject = _purpose(schedule_id)
    row = ScheduleRow(schedule_id, purpose, subject)
    try:
        d = await client.get_schedule_handle(schedule_id).describe()
    except Exception as e:  # not created (yet): a deploy or the next start creates it
        if "not found" not in str(e).lower():
            raise
        row.missing = True
        return row
    action = d.schedule.action
    if isinstance(action, ScheduleActionStartWorkflow):
        row.workflow = action.workflow
    row.when = _timing(d)
    if d.info.recent_actions:
        last = max(d.info.recent_actions, key=lambda a: a.scheduled_at)
        row.last_run = last.started_at or last.scheduled_at
        row.last_workflow_id = getattr(last.action, "workflow_id", None)
    row.next_runs = list(d.info.next_action_times[:3])
    row.paused, row.note = d.schedule.state.paused, d.schedule.state.note or None
    return row


async def schedules(client: Client, expected: list[str]) -> list[ScheduleRow]:
    """Every schedule the platform keeps: those it expects, created or not, and any other listed."""
    ids = list(dict.fromkeys(expected))
    try:
        async for listed in await client.list_schedules():
            if listed.id not in ids:
                ids.append(listed.id)
    except Exception as e:  # the listing is eventually consistent and only adds: the expected are described
        log.warning("schedules not listed: %s", e)
    rows = await asyncio.gather(*(_describe(client, i) for i in ids))
    return sorted(rows, key=lambda r: (r.missing, PURPOSES.index(r.purpose), r.id))


@router.get("/system")
async def system_page(request: Request, user: ConsoleUser):
    require(user, "hq", "admin")
    state = request.app.state

    def read():
        with state.sessions() as session:
            programs = list(session.scalars(select(RuleVersion.ruleset).where(RuleVersion.kind == "rebate")
                                            .distinct().order_by(RuleVersion.ruleset)))
            failing = list(session.scalars(select(ProcessFailure).where(
                ProcessFailure.activity == "send_notifications").order_by(ProcessFailure.last_at.desc()).limit(5)))
            return programs, notifications.outbox(session), failing

    programs, outbox, failing = await run_in_threadpool(read)
    expected = [TIERING_SCHEDULE, CREDIT_SCHEDULE, DIVERSION_SCHEDULE, ORDER_SCHEDULE, *(schedule_id_for(p) for p in programs)]
    rows, temporal_error = [], None
    try:
        rows = await asyncio.wait_for(schedules(state.temporal, expected), TEMPORAL_WAIT)
    except Exception as e:  # the page still shows the outbox
        temporal_error = str(e) or type(e).__name__
    webhook = state.settings.notify_webhook_url
    return page(request, "system.html", user, schedules=rows, temporal_error=temporal_error, outbox=outbox,
                failing=failing, webhook=urlsplit(webhook).netloc if webhook else None,
                unsent=sum(o.unsent for o in outbox), sent=sum(o.sent for o in outbox))
