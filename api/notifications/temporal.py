"""The notification dispatch's schedule: every minute, so retries go out when their backoff ends."""
from __future__ import annotations

from datetime import timedelta

from temporalio.client import (Client, Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec,
                               ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes

from dealerflow.contracts import STAGE
from dealerflow.contracts.notifications import NOTIFY_SCHEDULE, NotificationDispatchInput
from workflows import NotificationDispatchWorkflow

from api.temporal_calls import ensure_schedule

DISPATCH_EVERY = timedelta(minutes=1)


async def sync_dispatch_schedule(*, client: Client, task_queue: str) -> None:
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            NotificationDispatchWorkflow.run, NotificationDispatchInput(), id=NOTIFY_SCHEDULE, task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes([Pair(STAGE, "scheduled")])),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=DISPATCH_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    await ensure_schedule(client, NOTIFY_SCHEDULE, schedule)
