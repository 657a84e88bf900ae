"""One workflow per dealer request: it waits on the request's human task (opened in the filing
transaction; the task's workflow finds its row there), closes the request with the outcome, then
stays open for the reopening window; a reopening (a signal carrying the new task, written by the
API) asks again. Its history grows with reopenings, not with time: the SLA is not a timer here.

`ServiceSweepWorkflow` runs on a Temporal Schedule for all requests at once: retargets requests whose
dealer changed tier, reminds before breaches and escalates at them, set-based in the database."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, CareDayInput, CareDayResult, RedemptionInput, RedemptionSettleInput,
                                      ServiceCloseInput, ServiceClosed, ServiceRequestInput,
                                      ServiceSweepInput, ServiceSweepResult, TaskSpec)

from .human_task import ask, start_task

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
SWEEP = dict(start_to_close_timeout=timedelta(minutes=10),
             retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))


@workflow.defn
class ServiceRequestWorkflow:
    def __init__(self) -> None:
        self._reopened: list[TaskSpec] = []
        self._asking: str | None = None  # the task whose workflow has started


    @workflow.run
    async def run(self, inp: ServiceRequestInput) -> str:
        spec = inp.task
        while True:
            workflow.upsert_search_attributes([STAGE.value_set("open")])
            handle = await start_task(spec, detached=True)
            self._asking = spec.task_id
            answer = await handle
            await workflow.execute_activity("close_service_request", ServiceCloseInput(inp.request_id, answer),
                                            result_type=ServiceClosed, **ACTIVITY)
            workflow.upsert_search_attributes([STAGE.value_set("closed")])
            try:
                await workflow.wait_condition(lambda: bool(self._reopened),
                                              timeout=timedelta(seconds=inp.reopen_within_seconds))
            except asyncio.TimeoutError:
                return answer.outcome
            spec = self._reopened.pop(0)

    @workflow.update
    async def asking(self, task_id: str) -> str:
        """Returns once the task's workflow has started: the API answers the dealer after that, so the
        task can be completed as soon as the request is shown."""
        await workflow.wait_condition(lambda: self._asking == task_id)
        return task_id

    @workflow.update
    async def reopen(self, task: TaskSpec) -> str:
        self._reopened.append(task)
        await workflow.wait_condition(lambda: self._asking == task.task_id)
        return task.task_id


@workflow.defn
class ServiceSweepWorkflow:
    @workflow.run
    async def run(self, inp: ServiceSweepInput) -> ServiceSweepResult:
        total = ServiceSweepResult()
        while True:  # batches until nothing more is due (bounded: each batch stamps what it did)
            done = await workflow.execute_activity(
                "sweep_service_sla", ServiceSweepInput(inp.now or workflow.now(), inp.batch),
                result_type=ServiceSweepResult, **SWEEP)
            total = ServiceSweepResult(total.reminded + done.reminded, total.breached + done.breached,
                                       total.retargeted + done.retargeted)
            if max(done.reminded, done.breached) < inp.batch:
                return total


@workflow.defn
class CareDailyWorkflow:
    """Every morning from a Schedule: greetings and offers, tomorrow's occasions told to the account
    managers, contact tasks by cadence — one set-based activity for every dealer."""
    @workflow.run
    async def run(self, inp: CareDayInput) -> CareDayResult:
        return await workflow.execute_activity("run_daily_care", inp, result_type=CareDayResult, **SWEEP)


@workflow.defn
class RedemptionWorkflow:
    """A points redemption: the points are taken when it is filed; the item's role fulfils or refuses
    it (the shared human task), and a refusal gives the points back."""
    @workflow.run
    async def run(self, inp: RedemptionInput) -> str:
        answer = await ask(inp.task)
        status = await workflow.execute_activity("settle_redemption", RedemptionSettleInput(inp.redemption_id, answer),
                                                 result_type=str, **ACTIVITY)
        workflow.upsert_search_attributes([STAGE.value_set(status)])
        return status
