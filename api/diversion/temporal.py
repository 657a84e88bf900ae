"""Anti-diversion in Temporal: case workflows started after a batch of scans commits, and the hourly sweep."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy,
                               ScheduleSpec)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from dealerflow.contracts.diversion import workflow_id_for
from dealerflow.contracts import STAGE
from dealerflow.diversion import scans
from dealerflow.contracts import CaseInput, CaseStart, DiversionSweepInput, DiversionSweepResult
from workflows import CaseWorkflow, DiversionSweepWorkflow
from dealerflow.contracts import case_search_attributes
from api.temporal_calls import ensure_schedule, unavailable


CASE_STARTS = 16  # case workflows started at once after a batch of scans


log = logging.getLogger("dealerflow.api")


async def start_cases(*, client: Client, task_queue: str, cases: list[CaseStart]) -> int:
    """Start each new case's workflow; its id comes from the case id, so a second start starts
    nothing. A case that cannot be started now (Temporal unavailable) is stored all the same, and
    the diversion sweep starts it. Returns how many were started here."""
    gate = asyncio.Semaphore(CASE_STARTS)

    async def start(case: CaseStart) -> bool:
        async with gate:
            try:
                await client.start_workflow(
                    CaseWorkflow.run, CaseInput(case.case_id), id=workflow_id_for(case.case_id),
                    task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=case_search_attributes(case))
                return True
            except WorkflowAlreadyStartedError:
                return False
            except RPCError as e:
                log.warning("case %s: workflow not started (%s); the diversion sweep will start it", case.case_id, e)
                return False

    return sum(await asyncio.gather(*(start(c) for c in cases)))


async def record_scans(*, client: Client, task_queue: str, sessions: sessionmaker[Session], rows: list,
                       lines: list[int] | None = None, unreadable: list | None = None) -> scans.Ingested:
    """Record a batch of scans with their alerts (one transaction), then start the workflows of the
    cases it opened: after the commit, so a workflow never looks for a case that is not there."""
    def ingest() -> scans.Ingested:
        with sessions.begin() as session:
            return scans.ingest(session, rows, lines=lines, unreadable=unreadable or ())

    result = await run_in_threadpool(ingest)
    if result.cases:
        await start_cases(client=client, task_queue=task_queue, cases=result.cases)
    return result


async def run_diversion_sweep(*, client: Client, task_queue: str) -> DiversionSweepResult:
    """The schedule's sweep, now: shipment patterns, clean quarters, cases never started."""
    try:
        return await client.execute_workflow(
            DiversionSweepWorkflow.run, DiversionSweepInput(), id=f"diversion-sweep-{uuid.uuid4()}",
            task_queue=task_queue, search_attributes=TypedSearchAttributes([Pair(STAGE, "sweeping")]))
    except RPCError as e:
        raise unavailable(e) from None


DIVERSION_SCHEDULE = "diversion-sweep"


DIVERSION_EVERY = timedelta(hours=1)


async def sync_diversion_schedule(*, client: Client, task_queue: str) -> None:
    """The hourly diversion sweep; without a diversion rule file it finds nothing to do."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            DiversionSweepWorkflow.run, DiversionSweepInput(), id="diversion-sweep", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=DIVERSION_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, DIVERSION_SCHEDULE, schedule)
