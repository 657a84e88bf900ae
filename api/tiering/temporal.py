"""Re-tiering runs in Temporal: on demand and by the monthly schedule."""
from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleOverlapPolicy, SchedulePolicy,
                               ScheduleSpec)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from dealerflow.core.errors import Invalid
from dealerflow.contracts.tiering import month_of
from dealerflow.contracts.tiering import workflow_id_for
from dealerflow.contracts import STAGE
from dealerflow.tiering import runs as tiering
from dealerflow.contracts import TIERING_MONTH, RetieringInput
from dealerflow.models import TieringRun
from workflows import RetieringWorkflow, TieringScheduleWorkflow
from api.temporal_calls import ensure_schedule, SCHEDULE_AT, unavailable


@dataclass
class RetieringStarted:
    month: str
    workflow_id: str
    action: str  # started | existing


async def start_retiering(*, client: Client, task_queue: str, sessions: sessionmaker[Session], month: str | None,
                          actor: str, now) -> RetieringStarted:
    """Re-tier every dealer for `month` (default: this month); a month asked for twice runs once."""
    def check() -> tuple[str, bool]:
        with sessions() as session:
            wanted = month or month_of(now)
            if session.get(TieringRun, wanted) is not None:
                return wanted, True
            tiering.plan(session, wanted, now)
            tiering.ruleset(session)
            return wanted, False

    try:
        month, existed = await run_in_threadpool(check)
    except tiering.TieringError as e:
        raise Invalid(str(e), field="month") from None
    wid = workflow_id_for(month)
    if not existed:
        try:
            await client.start_workflow(
                RetieringWorkflow.run, RetieringInput(month, actor), id=wid, task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([Pair(TIERING_MONTH, month), Pair(STAGE, "starting")]))
        except WorkflowAlreadyStartedError:  # the run has already finished
            existed = True
        except RPCError as e:
            raise unavailable(e) from None
    return RetieringStarted(month, wid, "existing" if existed else "started")


TIERING_SCHEDULE = "tiering-monthly"


async def sync_tiering_schedule(*, client: Client, sessions: sessionmaker[Session], task_queue: str) -> bool:
    """The monthly re-tiering schedule (the 1st, 08:00 China time), once a tiering file is deployed."""
    def deployed() -> bool:
        with sessions() as session:
            try:
                tiering.ruleset(session)
                return True
            except tiering.TieringError:
                return False

    if not await run_in_threadpool(deployed):
        return False
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            TieringScheduleWorkflow.run, RetieringInput(), id="tiering-schedule", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(calendars=[SCHEDULE_AT]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, TIERING_SCHEDULE, schedule)
    return True
