"""Dealer requests under SLA at scale, on the embedded PostgreSQL and Temporal dev server with the
product's real worker process and the shipped rules/service.yaml.

Printed, all measured in this run:
- filing: requests filed through the product's service (rows, clocks on the working calendar, human
  task), in requests per second;
- the requests' workflows started (each starts its task's workflow and waits), and the history of a
  request's workflow and of its task's workflow in events — the SLA is no timer in them, so neither
  grows with the number of requests or with time;
- one sweep (the scheduled ServiceSweepWorkflow through the worker) that reminds and escalates the
  requests that have come due: its time and the rows it stamped; and the same sweep with nothing due;
- the worker's peak memory (psutil).

    .venv/bin/python bench/service_sla.py [--requests 10000] [--due 1000] [--workflows 1000] [--scale 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, text
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dealerflow.contracts import (SERVICE_SWEEP_SCHEDULE, ServiceRequestInput, ServiceSweepInput,  # noqa: E402
                                  ServiceSweepResult)
from dealerflow.core.db import make_engine, make_sessionmaker  # noqa: E402
from dealerflow.core.temporal import connect  # noqa: E402
from dealerflow.models import Dealer, HumanTask, ServiceClock, ServiceRequest  # noqa: E402
from dealerflow.service import requests as service  # noqa: E402
from dealerflow.service.rules import ruleset as service_rules  # noqa: E402
from harness import BenchStack  # noqa: E402
from policy_rollout import PeakRss, log  # noqa: E402
from workflows import ServiceRequestWorkflow, ServiceSweepWorkflow  # noqa: E402

TIERS = ("core", "key", "normal")
CATEGORIES = ("product", "training", "policy", "after_sales", "expiring_stock", "promotion")


def make_dealers(engine, n: int) -> list[int]:
    with engine.begin() as c:
        c.execute(text("""
            insert into dealers (code, name, region, level, tier, credit_limit, outstanding, rating, overdue_days,
                                 tags, channel, cooperation_since, payment_terms_days, status)
            select 'SB' || lpad(g::text, 6, '0'), 'Bench dealer ' || g, (array['east','south','north','central'])[1 + g % 4],
                   1, (array['core','key','normal'])[1 + g % 3], 0, 0, 'A', 0, '{}', 'retail', current_date, 30, 'active'
            from generate_series(1, :n) g"""), {"n": n})
        return list(c.execute(text("select id from dealers where code like 'SB%' order by id")).scalars())


def file_all(sessions, dealer_ids: list[int], requests: int, due: int) -> list[tuple]:
    """File `requests` through the service, `due` of them a month ago (so their targets have passed)."""
    now = datetime.now(timezone.utc)
    filed, batch = [], 500
    for start in range(0, requests, batch):
        with sessions.begin() as s:
            dealers = {d.id: d for d in s.scalars(select(Dealer).where(Dealer.id.in_(
                [dealer_ids[i % len(dealer_ids)] for i in range(start, min(start + batch, requests))])))}
            for i in range(start, min(start + batch, requests)):
                d = dealers[dealer_ids[i % len(dealer_ids)]]
                at = now - timedelta(days=30) if i < due else now - timedelta(seconds=i % 60)
                r, task = service.file_request(s, dealer=d, actor="bench", category=CATEGORIES[i % len(CATEGORIES)],
                                               subject=f"Bench request {i}", text="Please advise", attachments=[],
                                               now=at)
                filed.append((str(r.id), r.workflow_id, task))
    return filed


_CLONE = [text("""
    create temporary table bench_clones on commit drop as
    select gen_random_uuid() as id, gen_random_uuid() as task_id, g from generate_series(1, :k) g"""),
    text("""
    insert into service_requests (id, dealer_id, category, subject, status, tier, region, assignee_role,
        assignee_user_id, escalate_to, task_id, workflow_id, ruleset_version, filed_by, reopened, created_at)
    select c.id, d.id,
        t.category, t.subject || ' copy ' || c.g, t.status, t.tier, t.region, t.assignee_role, t.assignee_user_id,
        t.escalate_to, c.task_id, 'service-' || c.id, t.ruleset_version, t.filed_by, 0, t.created_at
    from bench_clones c join service_requests t on t.id = :template
    join (select id, tier, row_number() over (partition by tier order by id) - 1 as rn,
                 count(*) over (partition by tier) as n
          from dealers where code like 'SB%') d on d.tier = t.tier and d.rn = c.g % d.n"""),
    text("""
    insert into service_clocks (request_id, clock, tier, target_s, used_s, running_since, due_at, remind_at)
    select c.id, k.clock, k.tier, k.target_s, k.used_s, k.running_since, k.due_at, k.remind_at
    from bench_clones c, service_clocks k where k.request_id = :template"""),
    text("""
    insert into human_tasks (id, kind, title, subject_type, subject_id, dealer_id, workflow_id, assignee_role,
        assignee_user_id, outcomes, payload, due_at, status, reminders_sent, created_at)
    select c.task_id, h.kind, h.title, h.subject_type, c.id::text, h.dealer_id, 'task-' || c.task_id,
        h.assignee_role, h.assignee_user_id, h.outcomes, h.payload, h.due_at, 'open', 0, h.created_at
    from bench_clones c, human_tasks h, service_requests t where t.id = :template and h.id = t.task_id""")]


def clone(engine, template: str, k: int, dealers: int) -> None:
    """`k` more open requests like `template` (filed just now), their clocks and tasks, in SQL."""
    with engine.begin() as c:
        for statement in _CLONE:
            c.execute(statement, {"k": k, "template": template, "dealers": dealers})


async def start_workflows(settings, filed: list[tuple], reopen_within: int) -> float:
    client = await connect(settings)
    gate = asyncio.Semaphore(32)

    retried = 0

    async def one(rid, wid, task):
        nonlocal retried
        async with gate:
            handle = await client.start_workflow(ServiceRequestWorkflow.run, ServiceRequestInput(rid, task, reopen_within),
                                                 id=wid, task_queue=settings.task_queue)
            for attempt in range(10):
                try:
                    await handle.execute_update(ServiceRequestWorkflow.asking, task.task_id)
                    return
                except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
                    # A workflow task that timed out on a loaded machine is retried by the server; an
                    # update sent meanwhile is refused (WorkflowNotReady): ask again, as the API's caller would.
                    if attempt == 9:
                        raise
                    retried += 1
                    await asyncio.sleep(1 + attempt)
    started = time.perf_counter()
    await asyncio.gather(*(one(*f) for f in filed))
    if retried:
        log(f"{retried} updates asked again after a workflow task was not ready")
    return time.perf_counter() - started


async def history_lengths(settings, filed: list[tuple], sample: int = 20) -> tuple[float, float]:
    client = await connect(settings)
    requests, tasks = [], []
    for rid, wid, task in filed[:sample]:
        requests.append(len([e async for e in client.get_workflow_handle(wid).fetch_history_events()]))
        tasks.append(len([e async for e in client.get_workflow_handle(f"task-{task.task_id}").fetch_history_events()]))
    return sum(requests) / len(requests), sum(tasks) / len(tasks)


async def pause_schedule(settings) -> None:
    """The minutely sweep of the schedule would take the due requests before the measured sweep."""
    client = await connect(settings)
    await client.get_schedule_handle(SERVICE_SWEEP_SCHEDULE).pause(note="benchmark measures its own sweep")


async def sweep(settings) -> tuple[float, ServiceSweepResult]:
    client = await connect(settings)
    started = time.perf_counter()
    result = await client.execute_workflow(ServiceSweepWorkflow.run, ServiceSweepInput(),
                                           id=f"bench-sweep-{uuid.uuid4().hex[:8]}", task_queue=settings.task_queue,
                                           result_type=ServiceSweepResult)
    return time.perf_counter() - started, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--due", type=int, default=1_000)
    p.add_argument("--filed", type=int, default=2_000, help="requests filed through the service; the rest are"
                                                             " copies of one made in SQL")
    p.add_argument("--workflows", type=int, default=200, help="requests whose workflows are started")
    p.add_argument("--scale", type=float, default=1.0)
    args = p.parse_args()
    n, due, wf, filed_n = (max(1, int(x * args.scale)) for x in (args.requests, args.due, args.workflows, args.filed))
    filed_n = min(n, max(filed_n, due + 1))
    with BenchStack("bench-service") as bench:
        engine = make_engine(bench.settings.database_url)
        sessions = make_sessionmaker(engine)
        asyncio.run(pause_schedule(bench.settings))
        worker = bench.worker()
        rss = PeakRss(worker.pid)
        rss.start()
        log(f"{n} dealers")
        dealer_ids = make_dealers(engine, n)
        log(f"filing {filed_n} requests ({due} filed a month ago), {n - filed_n} copies")
        t0 = time.perf_counter()
        filed = file_all(sessions, dealer_ids, filed_n, due)
        filing = time.perf_counter() - t0
        if n > filed_n:
            clone(engine, filed[-1][0], n - filed_n, len(dealer_ids))
        with sessions() as s:
            reopen_within = service_rules(s)[1].reopen_within
            open_requests = s.scalar(select(func.count()).select_from(ServiceRequest).where(ServiceRequest.status != "closed"))
            clocks = s.scalar(select(func.count()).select_from(ServiceClock).where(ServiceClock.due_at.is_not(None)))
            tasks = s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open"))
        log(f"starting {wf} request workflows")
        sample = filed[due:due + wf]  # requests that are not due: their workflows wait on the person
        starting = asyncio.run(start_workflows(bench.settings, sample, reopen_within))
        request_events, task_events = asyncio.run(history_lengths(bench.settings, sample))
        log("sweeping")
        swept_s, swept = asyncio.run(sweep(bench.settings))
        idle_s, idle = asyncio.run(sweep(bench.settings))
        rss.stopped.set()
        print(f"open requests: {open_requests}; running SLA clocks: {clocks}; open tasks: {tasks}")
        print(f"filing through the service: {filed_n} requests in {filing:.1f} s = {filed_n / filing:.0f} requests/s"
              f" ({n - filed_n} more copied in SQL)")
        print(f"request workflows started (each with its task's workflow, answered once started): {wf} in "
              f"{starting:.1f} s = {wf / starting:.0f}/s")
        print(f"history per request: request workflow {request_events:.0f} events, task workflow {task_events:.0f}"
              f" events (no SLA timer in either)")
        print(f"sweep of {due} due requests: {swept_s:.2f} s — {swept.breached} clocks breached and escalated,"
              f" {swept.reminded} reminders, {swept.retargeted} retargeted")
        print(f"sweep with nothing due over {n} open requests: {idle_s:.2f} s ({idle.breached} breached)")
        print(f"worker peak RSS: {rss.peak / 2**20:.0f} MiB")
        engine.dispose()


if __name__ == "__main__":
    main()
