"""The notification dispatch on the time-skipping server: one run tries the outbox once and reports
how many rows it handled; a failing try is retried by Temporal a bounded number of times."""
from __future__ import annotations

import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError

from dealerflow.contracts.notifications import NotificationDispatchInput, NotificationDispatchResult
from workflows import NotificationDispatchWorkflow

from .doubles import Recorder


def test_a_dispatch_run_sends_the_outbox_once(wf):
    rec = Recorder()

    @activity.defn(name="send_notifications")
    async def send() -> int:
        rec.add("send_notifications")
        return 7

    async def scenario():
        async with wf.worker(send) as tq:
            return await wf.client.execute_workflow(NotificationDispatchWorkflow.run, NotificationDispatchInput(),
                                                    id=f"dispatch-{uuid.uuid4().hex[:8]}", task_queue=tq)
    assert wf.run(scenario()) == NotificationDispatchResult(7)
    assert rec.names() == ["send_notifications"]


def test_a_dispatch_that_keeps_failing_gives_up_after_three_tries(wf):
    rec = Recorder()

    @activity.defn(name="send_notifications")
    async def send() -> int:
        rec.add("send_notifications")
        raise RuntimeError("database unavailable")

    async def scenario():
        async with wf.worker(send) as tq:
            await wf.client.execute_workflow(NotificationDispatchWorkflow.run, NotificationDispatchInput(),
                                             id=f"dispatch-{uuid.uuid4().hex[:8]}", task_queue=tq)
    with pytest.raises(WorkflowFailureError):
        wf.run(scenario())
    assert rec.names() == ["send_notifications"] * 3
