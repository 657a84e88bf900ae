"""`NotificationDispatchWorkflow` runs every minute on a Temporal Schedule: one activity plans new
notifications' deliveries and tries those due, so a failed delivery is retried when its backoff
ends even when no process is notifying."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts.notifications import NotificationDispatchInput, NotificationDispatchResult


@workflow.defn
class NotificationDispatchWorkflow:
    @workflow.run
    async def run(self, inp: NotificationDispatchInput) -> NotificationDispatchResult:
        handled = await workflow.execute_activity(
            "send_notifications", result_type=int, start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=30)))
        return NotificationDispatchResult(handled)
