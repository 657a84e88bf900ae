"""What the API's Temporal calls share: one mapping of an unreachable service, one way to send a
workflow update and map its refusal, and schedules created or brought up to date."""
from __future__ import annotations

from datetime import timedelta

from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError,
                               ScheduleCalendarSpec, ScheduleIntervalSpec, ScheduleOverlapPolicy, SchedulePolicy,
                               ScheduleRange, ScheduleSpec, ScheduleUpdate, WorkflowHandle, WorkflowUpdateFailedError)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError
from temporalio.exceptions import ApplicationError

from dealerflow.contracts import STAGE
from dealerflow.core.errors import DomainError, Unavailable

SCHEDULE_AT = ScheduleCalendarSpec(day_of_month=(ScheduleRange(1),), hour=(ScheduleRange(0),))  # 08:00 China time


def unavailable(e: Exception) -> Unavailable:
    return Unavailable(f"workflow service unavailable: {e}")


async def run_update(handle: WorkflowHandle, update, arg, *, refusals: dict[str, type[DomainError]],
                     ended: DomainError | None = None):
    """Send a workflow update. A refusal by the workflow (its ApplicationError type) becomes the domain
    error `refusals` names for it, with the workflow's message; an update to a workflow that has
    ended raises `ended`; an unreachable Temporal is Unavailable."""
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type in refusals:
            raise refusals[cause.type](cause.message) from None
        raise
    except RPCError as e:
        if ended is not None and "workflow execution already completed" in str(e).lower():
            raise ended from None
        raise unavailable(e) from None


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or bring an existing one up to date: deploys and restarts may repeat it."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(lambda _: ScheduleUpdate(schedule=schedule))


async def ensure_every(client: Client, schedule_id: str, run, arg, *, workflow_id: str, every: timedelta,
                       task_queue: str) -> None:
    """A sweep every `every` (a run still going when the next is due is skipped), staged "scheduled"."""
    await ensure_schedule(client, schedule_id, Schedule(
        action=ScheduleActionStartWorkflow(run, arg, id=workflow_id, task_queue=task_queue,
                                           typed_search_attributes=TypedSearchAttributes(
                                               [SearchAttributePair(STAGE, "scheduled")])),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)))
