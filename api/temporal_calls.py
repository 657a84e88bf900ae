"""What the API's Temporal calls share: one mapping of an unreachable service, one of a workflow
update's refusal, and schedules created or brought up to date."""
from __future__ import annotations

from temporalio.client import (Client, Schedule, ScheduleAlreadyRunningError, ScheduleCalendarSpec, ScheduleRange,
                               ScheduleUpdate, WorkflowUpdateFailedError)
from temporalio.exceptions import ApplicationError

from dealerflow.core.errors import DomainError, Unavailable

SCHEDULE_AT = ScheduleCalendarSpec(day_of_month=(ScheduleRange(1),), hour=(ScheduleRange(0),))  # 08:00 China time


def unavailable(e: Exception) -> Unavailable:
    return Unavailable(f"workflow service unavailable: {e}")


def refusal(e: WorkflowUpdateFailedError, errors: dict[str, DomainError]) -> DomainError | None:
    """The domain error for a workflow's refusal of an update (its ApplicationError type), or None
    when the failure is not one the caller can act on."""
    cause = e.cause
    if isinstance(cause, ApplicationError) and cause.type in errors:
        return errors[cause.type]
    return None


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or bring an existing one up to date: deploys and restarts may repeat it."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(lambda _: ScheduleUpdate(schedule=schedule))
