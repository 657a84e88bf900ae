"""A step that keeps failing is listed for HQ with its error after a few attempts, HQ and admin are
told once, and the step's later success takes it off the list."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.failures import PermanentFailures
from dealerflow.core.temporal import connect
from dealerflow.models import Notification, ProcessFailure


ATTEMPTS: dict[str, int] = {}


@activity.defn
async def flaky(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 4:
        raise RuntimeError(f"gateway down (attempt {ATTEMPTS[key]})")
    return "sent"


@workflow.defn(sandboxed=False)
class FlakyWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_activity(
            flaky, key, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0))


def test_a_step_that_keeps_failing_is_listed_then_cleared(settings, sessions):
    key, seen = uuid.uuid4().hex, []
    workflow_id = f"flaky-{key}"

    async def main():
        client = await connect(settings)
        async with Worker(client, task_queue=settings.task_queue, workflows=[FlakyWorkflow], activities=[flaky],
                          workflow_runner=UnsandboxedWorkflowRunner(),
                          interceptors=[PermanentFailures(sessions, failing_after=2)]):
            handle = await client.start_workflow(FlakyWorkflow.run, key, id=workflow_id, task_queue=settings.task_queue)
            async def attempted() -> None:
                while ATTEMPTS.get(key, 0) < 3:
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(attempted(), 60)
            with sessions() as s:
                seen.append(s.scalars(select(ProcessFailure).where(ProcessFailure.workflow_id == workflow_id)).one())
            return await handle.result()

    assert asyncio.run(main()) == "sent"
    listed = seen[0]
    assert (listed.state, listed.activity, listed.workflow_type) == ("failing", "flaky", "FlakyWorkflow")
    assert listed.attempts >= 2 and "gateway down" in listed.error
    with sessions() as s:
        final = s.scalars(select(ProcessFailure).where(ProcessFailure.workflow_id == workflow_id)).one()
        assert final.state == "resolved" and final.resolved_at is not None
        told = s.scalar(select(func.count()).where(Notification.kind == "process_failure",
                                                   Notification.dedup_key.like(f"process-failing:%:{workflow_id}")))
        assert told == 2  # hq and admin, once each, whatever the number of attempts
