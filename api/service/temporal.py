"""Dealer requests in Temporal: the request's workflow started with its filing, the reopening signal,
closing through the request's human task, and the SLA sweep's schedule."""
from __future__ import annotations

from datetime import timedelta

from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleIntervalSpec,
                               ScheduleRange,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes
from temporalio.service import RPCError

from dealerflow.contracts import (CARE_SCHEDULE, DEALER_ID, CareDayInput, REGION, SERVICE_SWEEP_SCHEDULE, STAGE, ServiceRequestInput,
                                  ServiceSweepInput, TaskSpec)
from dealerflow.core.errors import Conflict
from workflows import CareDailyWorkflow, ServiceRequestWorkflow, ServiceSweepWorkflow

from api.temporal_calls import ensure_schedule, unavailable

SWEEP_EVERY = timedelta(minutes=1)


async def start_request(*, client: Client, task_queue: str, workflow_id: str, request_id: str, task: TaskSpec,
                        reopen_within: int, dealer_code: str, region: str) -> None:
    """Start the request's workflow and wait until its task's workflow has started."""
    try:
        handle = await client.start_workflow(
            ServiceRequestWorkflow.run, ServiceRequestInput(request_id, task, reopen_within), id=workflow_id,
            task_queue=task_queue, search_attributes=TypedSearchAttributes([
                Pair(DEALER_ID, dealer_code), Pair(REGION, region), Pair(STAGE, "open")]))
        await handle.execute_update(ServiceRequestWorkflow.asking, task.task_id)
    except RPCError as e:
        raise unavailable(e) from None


async def signal_reopen(*, client: Client, workflow_id: str, task: TaskSpec) -> None:
    try:
        await client.get_workflow_handle(workflow_id).execute_update(ServiceRequestWorkflow.reopen, task)
    except RPCError as e:
        if "workflow execution already completed" in str(e).lower():
            raise Conflict("the reopening window of this request has passed") from None
        raise unavailable(e) from None


async def sync_service_schedule(*, client: Client, task_queue: str) -> None:
    """The SLA sweep every minute (reminders, breaches and escalations of every open request) and the
    daily care run."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ServiceSweepWorkflow.run, ServiceSweepInput(), id="service-sla-sweep", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=SWEEP_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, SERVICE_SWEEP_SCHEDULE, schedule)

    care = Schedule(
        action=ScheduleActionStartWorkflow(
            CareDailyWorkflow.run, CareDayInput(), id="care-daily", task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        # 08:00 in Beijing: greetings arrive in the morning, account managers hear of tomorrow's
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(0),))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, CARE_SCHEDULE, care)
