"""ServiceRequestWorkflow, RedemptionWorkflow and the SLA sweep on the time-skipping server with
stand-in activities: a request is closed with its task's answer, stays open for the reopening window
and asks again when reopened, then ends when the window passes; a refused redemption is settled."""
from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity

from dealerflow.contracts import (CompleteTaskInput, RedemptionInput, RedemptionSettleInput, ServiceCloseInput,
                                  ServiceClosed, ServiceRequestInput, ServiceSweepInput, ServiceSweepResult)
from workflows import HumanTaskWorkflow, RedemptionWorkflow, ServiceRequestWorkflow, ServiceSweepWorkflow

from .doubles import Recorder, spec, task_activities


def service_activities(rec: Recorder, sweeps: list | None = None) -> list:
    @activity.defn(name="close_service_request")
    async def close(inp: ServiceCloseInput) -> ServiceClosed:
        rec.add("close_service_request", inp)
        return ServiceClosed(True)

    @activity.defn(name="settle_redemption")
    async def settle(inp: RedemptionSettleInput) -> str:
        rec.add("settle_redemption", inp)
        return inp.task.outcome

    @activity.defn(name="sweep_service_sla")
    async def sweep(inp: ServiceSweepInput) -> ServiceSweepResult:
        rec.add("sweep_service_sla", inp)
        return (sweeps or [ServiceSweepResult()]).pop(0)

    return [close, settle, sweep]


def test_a_request_closed_with_its_answer_ends_when_the_reopening_window_passes(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec), *service_activities(rec)) as tq:
            task_id, request_id = str(uuid.uuid4()), str(uuid.uuid4())
            handle = await wf.client.start_workflow(
                ServiceRequestWorkflow.run, ServiceRequestInput(request_id, spec(task_id, outcomes=["resolved"],
                                                                                 sla_seconds=3650 * 86400), 7 * 86400),
                id=f"service-{request_id}", task_queue=tq)
            await handle.execute_update(ServiceRequestWorkflow.asking, task_id)
            await wf.client.get_workflow_handle(f"task-{task_id}").execute_update(
                HumanTaskWorkflow.complete, CompleteTaskInput(task_id, "resolved", "am"))
            return await handle.result()  # the 7 days of the window are skipped

    assert wf.run(scenario()) == "resolved"
    assert [c.task.outcome for c in rec.args("close_service_request")] == ["resolved"]


def test_a_reopened_request_asks_again(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec), *service_activities(rec)) as tq:
            first, second = str(uuid.uuid4()), str(uuid.uuid4())
            request_id = str(uuid.uuid4())
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(
                    ServiceRequestWorkflow.run, ServiceRequestInput(request_id, spec(first, outcomes=["resolved"]),
                                                                    7 * 86400),
                    id=f"service-{request_id}", task_queue=tq)
                assert await handle.execute_update(ServiceRequestWorkflow.asking, first) == first
                await wf.client.get_workflow_handle(f"task-{first}").execute_update(
                    HumanTaskWorkflow.complete, CompleteTaskInput(first, "resolved", "am"))
                await rec.wait_for("close_service_request")
                assert await handle.execute_update(ServiceRequestWorkflow.reopen,
                                                   spec(second, outcomes=["resolved"])) == second
                await wf.client.get_workflow_handle(f"task-{second}").execute_update(
                    HumanTaskWorkflow.complete, CompleteTaskInput(second, "resolved", "am", "again"))
                await rec.wait_for("close_service_request", 2)
                await handle.terminate("test over")

    wf.run(scenario())
    closes = rec.args("close_service_request")
    assert [c.task.comment for c in closes] == ["", "again"]


def test_a_refused_redemption_is_settled_with_the_answer(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*task_activities(rec), *service_activities(rec)) as tq:
            task_id, rid = str(uuid.uuid4()), str(uuid.uuid4())
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(
                    RedemptionWorkflow.run, RedemptionInput(rid, spec(task_id, outcomes=["fulfilled", "refused"])),
                    id=f"redemption-{rid}", task_queue=tq)
                await rec.wait_for("open_task")
                await wf.client.get_workflow_handle(f"task-{task_id}").execute_update(
                    HumanTaskWorkflow.complete, CompleteTaskInput(task_id, "refused", "hq", "none left"))
            return await handle.result()

    assert wf.run(scenario()) == "refused"
    assert rec.args("settle_redemption")[0].task.outcome == "refused"


def test_the_sweep_runs_batches_until_fewer_than_a_batch_are_due(wf):
    rec = Recorder()
    sweeps = [ServiceSweepResult(2, 2, 0), ServiceSweepResult(1, 0, 1)]

    async def scenario():
        async with wf.worker(*service_activities(rec, sweeps)) as tq:
            return await wf.client.execute_workflow(ServiceSweepWorkflow.run, ServiceSweepInput(batch=2),
                                                    id=f"sweep-{uuid.uuid4()}", task_queue=tq,
                                                    execution_timeout=timedelta(minutes=5))

    assert wf.run(scenario()) == ServiceSweepResult(3, 2, 1)
    assert len(rec.names()) == 2
