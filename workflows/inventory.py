"""The daily inventory health run: begin (keyed by day and scope) → count sale scans into
sell-through → for each slice of the dealers at once: figures for every dealer × sku in one
statement, then advice by the inventory rule file (written once) → automatic replenishment drafts,
one task per account manager with red items, notifications in batches → close. The same day twice
does nothing the second time. The history grows with the steps and slices, not with the dealers.

`ForecastWorkflow` re-fits the demand forecasts weekly (one heartbeating activity)."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (REGION, RUN_DATE, STAGE, AdviceResult, ForecastInput, ForecastResult,
                                      HealthResult, InventoryRunInput, InventoryRunPlan, InventoryRunResult,
                                      InventoryStepInput, TaskSpec)
    from dealerflow.contracts.inventory import ALL_REGIONS, day_of

from .human_task import start_task

RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["InventoryError"])
ACTIVITY = dict(start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
LONG = dict(start_to_close_timeout=timedelta(minutes=60), heartbeat_timeout=timedelta(minutes=2), retry_policy=RETRY)


@workflow.defn
class InventoryHealthWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._figures: dict = {}

    @workflow.run
    async def run(self, inp: InventoryRunInput) -> InventoryRunResult:
        day = inp.day or day_of(workflow.now(), days_back=1)
        scope = inp.region or ALL_REGIONS
        if inp.day is None:  # started by the schedule: name the day it measures
            at = datetime.fromisoformat(day).replace(tzinfo=timezone(timedelta(hours=8)))
            workflow.upsert_search_attributes([RUN_DATE.value_set(at), REGION.value_set(scope)])

        def step() -> InventoryStepInput:
            return InventoryStepInput(day, scope, workflow.now(), inp.actor)

        plan = await workflow.execute_activity("begin_inventory_run", step(), result_type=InventoryRunPlan,
                                               **ACTIVITY)
        if plan.done:
            await self._set_stage("closed")
            return InventoryRunResult(day, scope, {"already_run": True})
        await self._set_stage("measuring")
        self._figures["scan_sales"] = await workflow.execute_activity("count_inventory_scan_sales", step(),
                                                                      result_type=int, **LONG)
        self._figures.update(pairs=0, advice=0)
        await asyncio.gather(*(self._slice(replace(step(), slice=n, slices=plan.slices)) for n in range(plan.slices)))
        advised = await workflow.execute_activity("conclude_inventory_advice", step(), result_type=AdviceResult,
                                                  **LONG)
        self._figures.update(advice=advised.advice, red=advised.red, drafts=advised.drafts)
        # The conclusion stored the tasks with the advice; their workflows (the SLA clocks) start
        # together, beside the close, which reads nothing they write. The run waits for both.
        started = asyncio.gather(*(self._start_task(spec) for spec in advised.tasks))
        if not workflow.patched("close-beside-task-starts"):
            await started  # a run begun before: its tasks started first, then the close
        totals, _ = await asyncio.gather(
            workflow.execute_activity("close_inventory_run", step(), result_type=dict, **ACTIVITY), started)
        await workflow.execute_activity(
            "send_notifications", result_type=int, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
        await self._set_stage("closed")
        return InventoryRunResult(day, scope, totals)

    async def _slice(self, inp: InventoryStepInput) -> None:
        """A slice's figures, then its advice: a slice measured advises while others still measure."""
        measured = await workflow.execute_activity("measure_inventory", inp, result_type=HealthResult, **LONG)
        self._figures["pairs"] += measured.pairs
        if self._stage == "measuring":
            await self._set_stage("advising")
        self._figures["advice"] += await workflow.execute_activity("advise_inventory", inp, result_type=int, **LONG)

    async def _start_task(self, spec: TaskSpec) -> None:
        try:  # account managers answer in their own time; the run does not wait
            await start_task(spec, detached=True)
        except WorkflowAlreadyStartedError:
            pass

    async def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    @workflow.query
    def progress(self) -> dict:
        return {"stage": self._stage, **self._figures}


@workflow.defn
class ForecastWorkflow:
    @workflow.run
    async def run(self, inp: ForecastInput) -> ForecastResult:
        day = inp.day or day_of(workflow.now())
        return await workflow.execute_activity(
            "fit_forecasts", ForecastInput(day, inp.actor), result_type=ForecastResult,
            start_to_close_timeout=timedelta(hours=2), heartbeat_timeout=timedelta(minutes=5), retry_policy=RETRY)
