"""What the API's Temporal calls share: one mapping of an unreachable service, one way to send a
workflow update and map its refusal, and schedules created or brought up to date."""
from __future__ import annotations

from temporalio.client import (Client, Schedule, ScheduleAlreadyRunningError, ScheduleCalendarSpec, ScheduleRange,
                               ScheduleUpdate, WorkflowHandle, WorkflowUpdateFailedError)
from temporalio.service import RPCError
from temporalio.exceptions import ApplicationError

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
