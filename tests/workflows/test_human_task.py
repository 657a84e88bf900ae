"""HumanTaskWorkflow: a person's decision under an SLA, with escalation, cancellation and four eyes."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError, CancelledError

from dealerflow.contracts import CompleteTaskInput, EscalationResult, TaskResult
from workflows import HumanTaskWorkflow

from .doubles import Recorder, spec, task_activities, wait_for_event


def new_id() -> str:
    return str(uuid.uuid4())


def test_completed_before_the_sla_is_recorded_and_never_escalated(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec)) as tq:
            task_id = new_id()
            with wf.env.with_time_skipping_disabled():  # the person answers inside the SLA
                handle = await wf.client.start_workflow(HumanTaskWorkflow.run, spec(task_id), id=f"task-{task_id}",
                                                        task_queue=tq)
            await rec.wait_for("open_task")
            done = await handle.execute_update(HumanTaskWorkflow.complete,
                                               CompleteTaskInput(task_id, "approve", "alice", "fine"))
            assert done == TaskResult(task_id, "approve", "alice", "fine")
            assert await handle.result() == done
            assert await handle.query(HumanTaskWorkflow.state) == {"claimed": True, "done": True}

    wf.run(scenario())
    assert rec.names() == ["open_task", "record_task_completion"]
    assert rec.args("record_task_completion") == [TaskResult(rec.args("open_task")[0].task_id, "approve", "alice", "fine")]


def test_sla_passes_the_task_is_escalated_once_and_completed_afterwards(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec)) as tq:
            task_id = new_id()
            handle = await wf.client.start_workflow(HumanTaskWorkflow.run, spec(task_id, sla_seconds=8 * 3600),
                                                    id=f"task-{task_id}", task_queue=tq)
            # Nobody answers: the skipped clock reaches the SLA and the task is escalated.
            [escalated] = await rec.wait_for("escalate_task")
            assert (escalated.task_id, escalated.escalate_to) == (task_id, "sales_director")
            done = await handle.execute_update(HumanTaskWorkflow.complete,
                                               CompleteTaskInput(task_id, "reject", "director"))
            assert await handle.result() == done == TaskResult(task_id, "reject", "director")
            desc = await handle.describe()
            assert desc.typed_search_attributes  # set by the workflow: escalated, then completed
            return desc

    desc = wf.run(scenario())
    assert rec.names() == ["open_task", "escalate_task", "record_task_completion"]
    opened, escalated = rec.of("open_task")[0].at, rec.of("escalate_task")[0].at
    assert timedelta(hours=8) <= escalated - opened < timedelta(hours=8, minutes=1)
    stage = {p.key.name: p.value for p in desc.typed_search_attributes}
    assert stage["Stage"] == "completed" and stage["TaskRole"] == "sales_director"


def test_a_completion_the_database_already_holds_ends_the_task_at_escalation(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec, EscalationResult(False, TaskResult("t", "approve", "bob")))) as tq:
            task_id = new_id()
            return await wf.client.execute_workflow(HumanTaskWorkflow.run, spec(task_id), id=f"task-{task_id}",
                                                    task_queue=tq)

    assert wf.run(scenario()) == TaskResult("t", "approve", "bob")
    assert rec.names() == ["open_task", "escalate_task"]


def test_cancelled_task_is_marked_cancelled_and_the_workflow_ends_cancelled(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec)) as tq:
            task_id = new_id()
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(HumanTaskWorkflow.run, spec(task_id), id=f"task-{task_id}",
                                                        task_queue=tq)
            await wait_for_event(handle, "timer_started")  # opened, and waiting under its SLA
            await handle.cancel()
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
            assert isinstance(failure.value.cause, CancelledError)
            return task_id

    task_id = wf.run(scenario())
    assert rec.names() == ["open_task", "cancel_task"]
    assert rec.args("cancel_task") == [TaskResult(task_id, "cancelled", "system", "no longer needed")]


def test_four_eyes_refuses_the_people_in_not_by_and_accepts_someone_else(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec)) as tq:
            task_id = new_id()
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(HumanTaskWorkflow.run, spec(task_id, not_by=["alice"]),
                                                        id=f"task-{task_id}", task_queue=tq)
            await rec.wait_for("open_task")
            refusals = []
            for attempt in (CompleteTaskInput(task_id, "approve", "alice"),  # four eyes
                            CompleteTaskInput(task_id, "maybe", "bob"),  # not an outcome
                            CompleteTaskInput("other", "approve", "bob")):  # not this task
                with pytest.raises(WorkflowUpdateFailedError) as refused:
                    await handle.execute_update(HumanTaskWorkflow.complete, attempt)
                assert isinstance(refused.value.cause, ApplicationError)
                refusals.append(refused.value.cause.type)
            assert refusals == ["SameApprover", "InvalidOutcome", "TaskNotFound"]
            assert await handle.query(HumanTaskWorkflow.state) == {"claimed": False, "done": False}
            await handle.execute_update(HumanTaskWorkflow.complete, CompleteTaskInput(task_id, "approve", "bob"))
            return await handle.result()

    assert wf.run(scenario()).actor == "bob"
    assert rec.names() == ["open_task", "record_task_completion"]


def test_a_second_completion_while_the_first_is_being_recorded_is_refused(wf):
    rec, recording = Recorder(), asyncio.Event()

    async def scenario():
        async with wf.worker(*task_activities(rec, recording=recording)) as tq:
            task_id = new_id()
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(HumanTaskWorkflow.run, spec(task_id), id=f"task-{task_id}",
                                                        task_queue=tq)
            await wait_for_event(handle, "timer_started")
            first = await handle.start_update(HumanTaskWorkflow.complete, CompleteTaskInput(task_id, "approve", "bob"),
                                              wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            await rec.wait_for("record_task_completion")  # bob's answer is being written
            assert await handle.query(HumanTaskWorkflow.state) == {"claimed": True, "done": False}
            with pytest.raises(WorkflowUpdateFailedError) as second:
                await handle.execute_update(HumanTaskWorkflow.complete, CompleteTaskInput(task_id, "reject", "carol"))
            assert second.value.cause.type == "TaskAlreadyCompleted"
            recording.set()
            assert (await first.result()).actor == "bob"
            return await handle.result()

    assert wf.run(scenario()).outcome == "approve"
    assert [r.actor for r in rec.args("record_task_completion")] == ["bob"]
