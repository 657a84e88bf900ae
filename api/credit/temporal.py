"""Credit scoring runs in Temporal: on demand and by the monthly schedule."""
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

from dealerflow.contracts import CREDIT_RUN_DATE, STAGE, CreditScoringInput
from dealerflow.contracts.credit import run_date, workflow_id_for
from dealerflow.contracts.tiering import month_of
from dealerflow.core.errors import Invalid
from dealerflow.credit import runs as credit
from dealerflow.models import CreditRun
from workflows import CreditScheduleWorkflow, CreditScoringWorkflow
from api.temporal_calls import SCHEDULE_AT, ensure_schedule, unavailable


@dataclass
class CreditRunStarted:
    month: str
    workflow_id: str
    action: str  # started | existing


async def start_scoring(*, client: Client, task_queue: str, sessions: sessionmaker[Session], month: str | None,
                        actor: str, now) -> CreditRunStarted:
    """Score every dealer's credit for `month` (default: this month); a month asked twice runs once."""
    def check() -> tuple[str, bool]:
        with sessions() as session:
            wanted = month or month_of(now)
            if session.get(CreditRun, wanted) is not None:
                return wanted, True
            credit.plan(session, wanted, now)
            credit.ruleset(session)
            return wanted, False

    try:
        month, existed = await run_in_threadpool(check)
    except credit.CreditRunError as e:
        raise Invalid(str(e), field="month") from None
    wid = workflow_id_for(month)
    if not existed:
        try:
            await client.start_workflow(
                CreditScoringWorkflow.run, CreditScoringInput(month, actor), id=wid, task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([Pair(CREDIT_RUN_DATE, run_date(month)), Pair(STAGE, "starting")]))
        except WorkflowAlreadyStartedError:
            existed = True
        except RPCError as e:
            raise unavailable(e) from None
    return CreditRunStarted(month, wid, "existing" if existed else "started")


CREDIT_SCHEDULE = "credit-monthly"


async def sync_credit_schedule(*, client: Client, sessions: sessionmaker[Session], task_queue: str) -> bool:
    """The monthly credit scoring schedule (the 1st, 08:00 China time), once a credit_score file is deployed."""
    def deployed() -> bool:
        with sessions() as session:
            try:
                credit.ruleset(session)
                return True
            except credit.CreditRunError:
                return False

    if not await run_in_threadpool(deployed):
        return False
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            CreditScheduleWorkflow.run, CreditScoringInput(), id="credit-schedule", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(calendars=[SCHEDULE_AT]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, CREDIT_SCHEDULE, schedule)
    return True
