"""Credit scoring on the time-skipping server with activity doubles: the run applies at once, starts
one approval workflow per increase without waiting for it, and closes; an increase over the second
threshold asks a second person, who may not be the first (the human-task workflow refuses them)."""
from __future__ import annotations

import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError

from dealerflow.contracts import (CompleteTaskInput, CreditApplyResult, CreditApprovalInput,
                                  CreditApprovalOutcomeInput, CreditScoreResult,
                                  CreditScoringInput, CreditScoringResult, CreditStepInput, TaskSpec)
from workflows import CreditScoringWorkflow, HumanTaskWorkflow

from .doubles import Recorder, spec, task_activities


def credit_activities(rec: Recorder, approvals: dict[int, int]) -> list:
    """`approvals`: dealer id → people its increase needs."""
    decided: dict[int, list[str]] = {}

    @activity.defn(name="score_credit")
    async def score_credit(inp: CreditStepInput) -> CreditScoreResult:
        rec.add("score_credit", inp)
        return CreditScoreResult(inp.month, dealers=10, changes=4)

    @activity.defn(name="apply_credit_changes")
    async def apply_credit_changes(inp: CreditStepInput) -> CreditApplyResult:
        rec.add("apply_credit_changes", inp)
        return CreditApplyResult(applied=2, decreases=1, awaiting=sorted(approvals))

    @activity.defn(name="credit_increase_task")
    async def credit_increase_task(inp: CreditApprovalInput) -> TaskSpec | None:
        rec.add("credit_increase_task", inp)
        if inp.step > approvals[inp.dealer_id]:
            return None
        return spec(inp.task_id, kind="credit_increase", subject_type="credit", subject_id=f"{inp.month}:{inp.dealer_id}",
                    not_by=list(inp.not_by), payload={"step": inp.step, "not_by": list(inp.not_by)})

    @activity.defn(name="record_credit_approval")
    async def record_credit_approval(inp: CreditApprovalOutcomeInput) -> str:
        rec.add("record_credit_approval", inp)
        if inp.task.outcome != "approve":
            return "rejected"
        decided.setdefault(inp.dealer_id, []).append(inp.task.actor)
        return "applied" if len(decided[inp.dealer_id]) >= approvals[inp.dealer_id] else "awaiting_approval"

    @activity.defn(name="close_credit_run")
    async def close_credit_run(inp: CreditStepInput) -> dict:
        rec.add("close_credit_run", inp)
        return {"applied": 2}

    @activity.defn(name="send_notifications")
    async def send_notifications() -> int:
        rec.add("send_notifications")
        return 0

    return task_activities(rec) + [score_credit, apply_credit_changes, credit_increase_task, record_credit_approval,
                                   close_credit_run, send_notifications]


async def complete(wf, task: TaskSpec, outcome: str, actor: str):
    return await wf.client.get_workflow_handle(f"task-{task.task_id}").execute_update(
        HumanTaskWorkflow.complete, CompleteTaskInput(task.task_id, outcome, actor))


def test_the_run_closes_without_waiting_and_each_increase_asks_its_approvers(wf):
    rec = Recorder()
    month = f"2031-{uuid.uuid4().int % 12 + 1:02d}"

    async def scenario():
        async with wf.worker(*credit_activities(rec, {7: 1, 9: 2})) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(CreditScoringWorkflow.run, CreditScoringInput(month, "cm-1"),
                                                        id=f"credit-{month}-{uuid.uuid4().hex[:6]}", task_queue=tq)
                result = await handle.result()  # closed while both increases wait for people
                opened = await rec.wait_for("open_task", 2)
                one = next(t for t in opened if t.subject_id.endswith(":9"))
                await complete(wf, one, "approve", "cm-1")
                [*_, second] = await rec.wait_for("open_task", 3)
                assert second.not_by == ["cm-1"] and second.payload["step"] == 2
                with pytest.raises(WorkflowUpdateFailedError):  # four eyes: not the first approver again
                    await complete(wf, second, "approve", "cm-1")
                await complete(wf, second, "approve", "cm-2")
                big = await wf.client.get_workflow_handle(f"credit-increase-{month}-9").result()
                small_task = next(t for t in opened if t.subject_id.endswith(":7"))
                await complete(wf, small_task, "reject", "cm-2")
                small = await wf.client.get_workflow_handle(f"credit-increase-{month}-7").result()
                return result, big, small

    result, big, small = wf.run(scenario())
    assert result == CreditScoringResult(month, {"applied": 2})
    assert (big, small) == ("applied", "rejected")
    names = rec.names()
    assert names.index("apply_credit_changes") < names.index("close_credit_run") < names.index("send_notifications")
    steps = [(a.dealer_id, a.step, a.task.actor) for a in rec.args("record_credit_approval")]
    assert sorted(steps) == [(7, 1, "cm-2"), (9, 1, "cm-1"), (9, 2, "cm-2")]
