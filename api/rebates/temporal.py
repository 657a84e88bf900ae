"""Settlement runs in Temporal: started on demand, woken by answers, and one schedule per rebate program."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

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
from dealerflow.contracts.rebates import workflow_id_for
from dealerflow.rebates import programs as rebates, settlement
from dealerflow.contracts import REBATE_PROGRAM, SETTLEMENT_PERIOD, STAGE, \
    DueRunsInput
from api.rebates.views import statement_read, visible_statement
from dealerflow.core.errors import NotFound
from dealerflow.models import User, SettlementRun
from dealerflow.core.periods import PeriodError
from workflows import SettlementScheduleWorkflow, SettlementWorkflow
from api.temporal_calls import ensure_schedule, SCHEDULE_AT, unavailable


@dataclass
class SettlementStarted:
    run_id: str
    workflow_id: str
    action: str  # started | existing


async def start_settlement(*, client: Client, task_queue: str, sessions: sessionmaker[Session], program: str,
                           period: str, upto: str | None, actor: str, today) -> SettlementStarted:
    """Start a program's settlement run for a period; the same run asked for twice runs once."""
    def plan():
        with sessions() as session:
            _, spec = rebates.program(session, program)
            plan = settlement.plan_run(spec, period_key=period, upto_key=upto, today=today)
            settlement.refuse_after_final(session, plan)
            return plan, session.get(SettlementRun, plan.run_id) is not None

    try:
        plan, existed = await run_in_threadpool(plan)
    except (settlement.SettlementError, PeriodError) as e:
        raise Invalid(str(e), field="period") from None
    wid = workflow_id_for(plan.run_id)
    try:
        await client.start_workflow(
            SettlementWorkflow.run, plan.input(actor), id=wid, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([
                Pair(REBATE_PROGRAM, plan.program), Pair(SETTLEMENT_PERIOD, plan.period.key), Pair(STAGE, "starting")]))
    except WorkflowAlreadyStartedError:  # the run has already finished
        existed = True
    except RPCError as e:
        raise unavailable(e) from None
    return SettlementStarted(plan.run_id, wid, "existing" if existed else "started")


async def wake_settlement(client: Client, run_id: str) -> None:
    """Tell a run that statements were answered. The answer is already stored; should the signal
    be lost, the run still sees it at the confirmation deadline."""
    try:
        await client.get_workflow_handle(workflow_id_for(run_id)).signal(
            SettlementWorkflow.statements_changed)
    except RPCError:
        pass


def schedule_id_for(program: str) -> str:
    return f"rebate-{program}"


async def sync_rebate_schedules(*, client: Client, sessions: sessionmaker[Session], task_queue: str,
                                only: str | None = None) -> list[str]:
    """One Temporal Schedule per deployed rebate program (or just `only`), firing on the 1st of each
    month: its workflow starts the final or interim run that has just become due."""
    def names():
        with sessions() as session:
            return [only] if only else rebates.deployed_names(session)

    synced = []
    for program in await run_in_threadpool(names):
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                SettlementScheduleWorkflow.run, DueRunsInput(program), id=f"rebate-schedule-{program}",
                task_queue=task_queue, typed_search_attributes=TypedSearchAttributes([
                    Pair(REBATE_PROGRAM, program), Pair(STAGE, "scheduled")])),
            spec=ScheduleSpec(calendars=[SCHEDULE_AT]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
        await ensure_schedule(client, schedule_id_for(program), schedule)
        synced.append(program)
    return synced


async def answer_statement(*, client: Client, sessions: sessionmaker[Session], user: User, statement_id: str,
                           dispute: str | None) -> dict:
    """A dealer confirms its statement (`dispute` None) or disputes it with a reason. The answer is
    stored, then the run is woken when it has something to do: a dispute, or no statement left
    unanswered (one signal per run, not one per dealer)."""
    try:
        sid = uuid.UUID(statement_id)
    except ValueError:
        raise NotFound("statement not found") from None

    def write():
        with sessions.begin() as session:
            now = datetime.now(timezone.utc)
            if dispute is None:
                settlement.confirm(session, statement_id=sid, dealer_id=user.dealer_id, actor=user.username, now=now)
            else:
                settlement.dispute(session, statement_id=sid, dealer_id=user.dealer_id, reason=dispute, now=now)

    def read():
        with sessions() as session:
            statement = visible_statement(session, user, statement_id)
            return statement_read(session, statement), settlement.unanswered(session, statement.run_id)

    await run_in_threadpool(write)
    answered, left = await run_in_threadpool(read)
    if dispute is not None or left == 0:
        await wake_settlement(client, answered["run_id"])
    return answered
