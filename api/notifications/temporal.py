"""The notification dispatch's schedule: every minute, so retries go out when their backoff ends."""
from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from dealerflow.contracts.notifications import NOTIFY_SCHEDULE, NotificationDispatchInput
from workflows import NotificationDispatchWorkflow

from api.temporal_calls import ensure_every

DISPATCH_EVERY = timedelta(minutes=1)


async def sync_dispatch_schedule(*, client: Client, task_queue: str) -> None:
    await ensure_every(client, NOTIFY_SCHEDULE, NotificationDispatchWorkflow.run, NotificationDispatchInput(),
                       workflow_id=NOTIFY_SCHEDULE, every=DISPATCH_EVERY, task_queue=task_queue)
