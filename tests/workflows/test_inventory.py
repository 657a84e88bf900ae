"""The daily inventory run on the time-skipping server with activity doubles: its steps in order,
each slice of the dealers measured then advised, one task per account manager started without
waiting for it, and a day that ran before doing nothing more."""
from __future__ import annotations

import uuid

from temporalio import activity

from dealerflow.contracts import (AdviceResult, HealthResult, InventoryRunInput, InventoryRunPlan,
                                  InventoryRunResult, InventoryStepInput)
from workflows import InventoryHealthWorkflow

from .doubles import Recorder, spec, task_activities


def doubles(rec: Recorder, *, done: bool, tasks: list) -> list:
    @activity.defn(name="begin_inventory_run")
    async def begin(inp: InventoryStepInput) -> InventoryRunPlan:
        rec.add("begin_inventory_run", inp)
        return InventoryRunPlan(inp.day, inp.scope, 3, done=done, slices=2)

    @activity.defn(name="count_inventory_scan_sales")
    async def scans(inp: InventoryStepInput) -> int:
        rec.add("count_inventory_scan_sales", inp)
        return 12

    @activity.defn(name="measure_inventory")
    async def measure(inp: InventoryStepInput) -> HealthResult:
        rec.add("measure_inventory", inp)
        return HealthResult(1_000 + inp.slice)

    @activity.defn(name="advise_inventory")
    async def advise(inp: InventoryStepInput) -> int:
        rec.add("advise_inventory", inp)
        return 20

    @activity.defn(name="conclude_inventory_advice")
    async def conclude(inp: InventoryStepInput) -> AdviceResult:
        rec.add("conclude_inventory_advice", inp)
        return AdviceResult(40, 7, 2, tasks)

    @activity.defn(name="close_inventory_run")
    async def close(inp: InventoryStepInput) -> dict:
        rec.add("close_inventory_run", inp)
        return {"pairs": 2_000, "advice": 40}

    @activity.defn(name="send_notifications")
    async def send() -> int:
        rec.add("send_notifications")
        return 0

    return [*task_activities(rec), begin, scans, measure, advise, conclude, close, send]


def test_the_daily_run_measures_advises_and_hands_red_items_to_account_managers(wf):
    rec = Recorder()
    tasks = [spec(str(uuid.uuid4()), kind="inventory_red_items", subject_type="inventory", subject_id="d",
                  assignee_role="account_manager", outcomes=["handled", "escalate"]) for _ in range(2)]

    async def scenario():
        async with wf.worker(*doubles(rec, done=False, tasks=tasks)) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(
                    InventoryHealthWorkflow.run, InventoryRunInput("2026-11-30", "east", "hq-1"),
                    id=f"inventory-{uuid.uuid4().hex[:8]}", task_queue=tq)
                result = await handle.result()
            return result, await handle.query(InventoryHealthWorkflow.progress)

    result, progress = wf.run(scenario())
    assert result == InventoryRunResult("2026-11-30", "east", {"pairs": 2_000, "advice": 40})
    assert progress == {"stage": "closed", "pairs": 2_001, "scan_sales": 12, "advice": 40, "red": 7, "drafts": 2}
    names = rec.names()
    assert names.index("count_inventory_scan_sales") < names.index("measure_inventory")
    # Both slices measured and advised, each slice's figures before its advice; the conclusion after all.
    for step in ("measure_inventory", "advise_inventory"):
        assert sorted((s.slice, s.slices) for s in rec.args(step)) == [(0, 2), (1, 2)]
    for n in (0, 1):
        measured, advised = (next(i for i, c in enumerate(rec.calls) if c.name == step and c.arg.slice == n)
                             for step in ("measure_inventory", "advise_inventory"))
        assert measured < advised
    last_advice = max(i for i, n in enumerate(names) if n == "advise_inventory")
    assert last_advice < names.index("conclude_inventory_advice") < names.index("close_inventory_run")
    assert {t.task_id for t in rec.args("open_task")} == {t.task_id for t in tasks}
    assert rec.args("record_task_completion") == []  # the run does not wait for the account managers
    assert all(s.day == "2026-11-30" and s.scope == "east" for s in rec.args("advise_inventory"))


def test_a_day_that_ran_before_does_nothing_more(wf):
    rec = Recorder()

    async def scenario():
        async with wf.worker(*doubles(rec, done=True, tasks=[])) as tq:
            return await wf.client.execute_workflow(
                InventoryHealthWorkflow.run, InventoryRunInput("2026-11-29", None), id=f"inventory-{uuid.uuid4().hex[:8]}",
                task_queue=tq)

    result = wf.run(scenario())
    assert result.totals == {"already_run": True} and result.scope == "*"
    assert rec.names() == ["begin_inventory_run"]
