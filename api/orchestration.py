"""The API's calls into Temporal: placing an order (update-with-start, so the credit decision comes
back in the same request), completing a human task (a workflow update), publishing, amending and
withdrawing a policy, starting an evidence review, starting settlement runs and keeping each rebate
program's schedule. The CLI and the launcher call these too."""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError,
                               ScheduleCalendarSpec, ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy,
                               ScheduleRange, ScheduleSpec, ScheduleUpdate, WithStartWorkflowOperation,
                               WorkflowUpdateFailedError)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from dealerflow import orders, policies, policy_tasks, rebates, settlement, tasks
from dealerflow.contracts import DEALER_ID, ORDER_ID, POLICY_ID, REBATE_PROGRAM, REGION, SETTLEMENT_PERIOD, STAGE, \
    AmendInput, CompleteTaskInput, DueRunsInput, EvidenceReviewInput, OrderLineInput, PlaceOrderInput, RolloutInput, \
    WithdrawInput
from dealerflow.models import HumanTask, Policy, SettlementRun, User
from dealerflow.periods import PeriodError
from dealerflow import tiering
from dealerflow.contracts import TIERING_MONTH, RetieringInput
from dealerflow.models import TieringRun
from workflows import EvidenceReviewWorkflow, HumanTaskWorkflow, OrderWorkflow, PolicyRolloutWorkflow, \
    SettlementScheduleWorkflow, SettlementWorkflow
from workflows.human_task import task_workflow_id
from workflows.tiering import RetieringWorkflow, TieringScheduleWorkflow
from dealerflow import diversion, scans
from dealerflow.contracts import CaseInput, CaseStart, DiversionSweepInput, DiversionSweepResult
from workflows.diversion import CaseWorkflow, DiversionSweepWorkflow, case_search_attributes

from .schemas import OrderCreate, OrderRead, TaskComplete
from .views import order_read


@dataclass
class Placed:
    order: OrderRead
    replayed: bool


def _unavailable(e: Exception) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow service unavailable: {e}")


async def place_order(*, client: Client, task_queue: str, sessions: sessionmaker[Session], user: User,
                      body: OrderCreate, idempotency_key: str | None) -> Placed:
    dealer = user.dealer
    order_id = orders.order_id_for(dealer.id, idempotency_key)
    lines = [OrderLineInput(l.sku, l.quantity) for l in body.lines]

    def check() -> OrderRead | None:
        with sessions() as session:
            first = order_read(session, order_id)
            if first is None:
                orders.price_lines(session, lines)  # 422 naming the line, before anything starts
            return first

    first = await run_in_threadpool(check)
    if first is not None:
        return Placed(first, replayed=True)
    wid = orders.workflow_id_for(order_id)
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        PlaceOrderInput(order_id=str(order_id), dealer_id=dealer.id, lines=lines, actor=user.username,
                        user_id=user.id, idempotency_key=idempotency_key),
        id=wid, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([
            Pair(DEALER_ID, dealer.code), Pair(REGION, dealer.region),
            Pair(ORDER_ID, str(order_id)), Pair(STAGE, "submitted")]))
    try:
        await client.execute_update_with_start_workflow(OrderWorkflow.decision, start_workflow_operation=start)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "OrderInputError":
            detail = cause.details[0] if cause.details else {"field": "lines", "message": cause.message}
            raise HTTPException(422, [detail]) from None
        raise
    except RPCError as e:
        raise _unavailable(e) from None

    def read() -> OrderRead:
        with sessions() as session:
            return order_read(session, order_id)

    return Placed(await run_in_threadpool(read), replayed=False)


async def complete_task(*, client: Client, sessions: sessionmaker[Session], user: User, task: HumanTask,
                        body: TaskComplete) -> None:
    if user.username in task.payload.get("not_by", ()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you approved the first step: a second approver must decide")
    if not tasks.may_complete(user, task):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this task is for role {task.assignee_role}"
                            + (f" or {task.escalated_to_role}" if task.escalated_to_role else ""))
    if task.status != "open":
        raise HTTPException(status.HTTP_409_CONFLICT, f"task is already {task.status}")
    if body.outcome not in task.outcomes:
        raise HTTPException(422, [{"field": "outcome", "message": f"must be one of {', '.join(task.outcomes)}"}])
    handle = client.get_workflow_handle(task_workflow_id(str(task.id)))
    try:
        await handle.execute_update(HumanTaskWorkflow.complete, CompleteTaskInput(
            task_id=str(task.id), outcome=body.outcome, actor=user.username, comment=body.comment))
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "TaskAlreadyCompleted":
            raise HTTPException(status.HTTP_409_CONFLICT, "task is already completed") from None
        if isinstance(cause, ApplicationError) and cause.type == "SameApprover":
            raise HTTPException(status.HTTP_403_FORBIDDEN, cause.message) from None
        if isinstance(cause, ApplicationError) and cause.type == "InvalidOutcome":
            raise HTTPException(422, [{"field": "outcome", "message": cause.message}]) from None
        raise
    except RPCError as e:
        if "workflow execution already completed" in str(e).lower():
            raise HTTPException(status.HTTP_409_CONFLICT, "task is already completed") from None
        raise _unavailable(e) from None


# --- policies ----------------------------------------------------------------------------------

@dataclass
class Published:
    policy_id: str
    version: int
    workflow_id: str
    action: str  # started | amended | unchanged


async def publish_policy(*, client: Client, task_queue: str, sessions: sessionmaker[Session], policy_id: str,
                         actor: str) -> Published:
    """Roll out the active version of a policy file: start its rollout, amend the running one with a
    newer version, or do nothing when this version is already out."""
    def current() -> tuple[int, Policy | None]:
        with sessions() as session:
            version = policies.policy_ruleset(session, policy_id).version
            return version, session.get(Policy, policy_id)

    try:
        version, existing = await run_in_threadpool(current)
    except policies.PolicyNotFound as e:
        raise HTTPException(404, str(e)) from None
    wid = policies.workflow_id_for(policy_id)
    if existing is not None and existing.version >= version:
        return Published(policy_id, existing.version, wid, "unchanged")
    try:
        await client.start_workflow(
            PolicyRolloutWorkflow.run, RolloutInput(policy_id, version, actor), id=wid, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL, id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes([Pair(POLICY_ID, policy_id), Pair(STAGE, "starting")]))
        return Published(policy_id, version, wid, "started")
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as e:
        raise _unavailable(e) from None
    try:
        await client.get_workflow_handle(wid).execute_update(PolicyRolloutWorkflow.amend, AmendInput(version, actor))
        return Published(policy_id, version, wid, "amended")
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "NotNewer":
            return Published(policy_id, version, wid, "unchanged")
        if isinstance(cause, ApplicationError) and cause.type == "RolloutClosed":
            raise HTTPException(status.HTTP_409_CONFLICT, cause.message) from None
        raise
    except RPCError as e:
        raise _unavailable(e) from None


async def withdraw_policy(*, client: Client, policy_id: str, actor: str, reason: str) -> str:
    handle = client.get_workflow_handle(policies.workflow_id_for(policy_id))
    try:
        return await handle.execute_update(PolicyRolloutWorkflow.withdraw, WithdrawInput(actor, reason))
    except WorkflowUpdateFailedError as e:
        if isinstance(e.cause, ApplicationError) and e.cause.type == "RolloutClosed":
            raise HTTPException(status.HTTP_409_CONFLICT, "the rollout has already ended") from None
        raise
    except RPCError as e:
        if "workflow execution already completed" in str(e).lower():
            raise HTTPException(status.HTTP_409_CONFLICT, "the rollout has already ended") from None
        raise _unavailable(e) from None


async def start_evidence_review(*, client: Client, task_queue: str, review: EvidenceReviewInput,
                                dealer_code: str) -> None:
    try:
        await client.start_workflow(
            EvidenceReviewWorkflow.run, review,
            id=policy_tasks.review_workflow_id(review.assignment_id, review.attempt), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes([
                Pair(POLICY_ID, review.review.subject_id), Pair(DEALER_ID, dealer_code), Pair(STAGE, "in_review")]))
    except RPCError as e:
        raise _unavailable(e) from None


# --- rebate settlement -------------------------------------------------------------------------

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
        raise HTTPException(422, [{"field": "period", "message": str(e)}]) from None
    wid = settlement.workflow_id_for(plan.run_id)
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
        raise _unavailable(e) from None
    return SettlementStarted(plan.run_id, wid, "existing" if existed else "started")


async def wake_settlement(client: Client, run_id: str) -> None:
    """Tell a run that statements were answered. The answer is already stored; should the signal
    be lost, the run still sees it at the confirmation deadline."""
    try:
        await client.get_workflow_handle(settlement.workflow_id_for(run_id)).signal(
            SettlementWorkflow.statements_changed)
    except RPCError:
        pass


SCHEDULE_AT = ScheduleCalendarSpec(day_of_month=(ScheduleRange(1),), hour=(ScheduleRange(0),))  # 08:00 China time


def schedule_id_for(program: str) -> str:
    return f"rebate-{program}"


async def sync_rebate_schedules(*, client: Client, sessions: sessionmaker[Session], task_queue: str,
                                only: str | None = None) -> list[str]:
    """One Temporal Schedule per deployed rebate program (or just `only`), firing on the 1st of each
    month: its workflow starts the final or interim run that has just become due."""
    def names():
        with sessions() as session:
            return [only] if only else [spec.id for _, spec in rebates.programs(session)]

    synced = []
    for program in await run_in_threadpool(names):
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                SettlementScheduleWorkflow.run, DueRunsInput(program), id=f"rebate-schedule-{program}",
                task_queue=task_queue, typed_search_attributes=TypedSearchAttributes([
                    Pair(REBATE_PROGRAM, program), Pair(STAGE, "scheduled")])),
            spec=ScheduleSpec(calendars=[SCHEDULE_AT]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
        try:
            await client.create_schedule(schedule_id_for(program), schedule)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(schedule_id_for(program)).update(
                lambda _: ScheduleUpdate(schedule=schedule))
        synced.append(program)
    return synced


# --- tiering -----------------------------------------------------------------------------------

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
            wanted = month or tiering.month_of(now)
            if session.get(TieringRun, wanted) is not None:
                return wanted, True
            tiering.plan(session, wanted, now)
            tiering.ruleset(session)
            return wanted, False

    try:
        month, existed = await run_in_threadpool(check)
    except tiering.TieringError as e:
        raise HTTPException(422, [{"field": "month", "message": str(e)}]) from None
    wid = tiering.workflow_id_for(month)
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
            raise _unavailable(e) from None
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
    try:
        await client.create_schedule(TIERING_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(TIERING_SCHEDULE).update(lambda _: ScheduleUpdate(schedule=schedule))
    return True


# --- anti-diversion ----------------------------------------------------------------------------

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
                    CaseWorkflow.run, CaseInput(case.case_id), id=diversion.workflow_id_for(case.case_id),
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
        raise _unavailable(e) from None


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
    try:
        await client.create_schedule(DIVERSION_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(DIVERSION_SCHEDULE).update(lambda _: ScheduleUpdate(schedule=schedule))
