"""A credit limit raise waiting for a second person, on the time-skipping server with doubles: the
requester is refused by the task itself (four eyes), a credit manager's answer is applied once, and an
unanswered task escalates to finance after its SLA."""
from __future__ import annotations

import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError

from dealerflow.contracts import CompleteTaskInput, LimitChangeInput, LimitChangeOutcomeInput, limit_change_workflow_id
from workflows import CreditLimitChangeWorkflow, HumanTaskWorkflow

from .doubles import Recorder, spec, task_activities


def _review(change_id: str, requester: str):
    return spec(str(uuid.uuid4()), kind="credit_limit_change", subject_type="dealer", subject_id="D0042",
                assignee_role="credit_manager", escalate_to="finance", sla_seconds=24 * 3600,
                payload={"change_id": change_id, "requested_by": requester}, not_by=[requester])


def _apply(rec: Recorder):
    @activity.defn(name="apply_limit_change")
    async def apply_limit_change(inp: LimitChangeOutcomeInput) -> str:
        rec.add("apply_limit_change", inp)
        return "approved" if inp.task.outcome == "approve" else "rejected"
    return apply_limit_change


def test_the_requester_cannot_approve_and_a_credit_manager_decides(wf):
    rec = Recorder()
    change_id = str(uuid.uuid4())
    review = _review(change_id, "admin-1")

    async def scenario():
        async with wf.worker(*task_activities(rec), _apply(rec)) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(
                    CreditLimitChangeWorkflow.run, LimitChangeInput(change_id, "D0042", review),
                    id=limit_change_workflow_id(change_id), task_queue=tq)
                await rec.wait_for("open_task")
                task = wf.client.get_workflow_handle(f"task-{review.task_id}")
                with pytest.raises(WorkflowUpdateFailedError):
                    await task.execute_update(HumanTaskWorkflow.complete,
                                              CompleteTaskInput(review.task_id, "approve", "admin-1"))
                await task.execute_update(HumanTaskWorkflow.complete,
                                          CompleteTaskInput(review.task_id, "approve", "cm-7", "annual contract"))
                return await handle.result()

    assert wf.run(scenario()) == "approved"
    [applied] = rec.args("apply_limit_change")
    assert (applied.change_id, applied.task.actor, applied.task.comment) == (change_id, "cm-7", "annual contract")


def test_an_unanswered_raise_escalates_to_finance_who_rejects_it(wf):
    rec = Recorder()
    change_id = str(uuid.uuid4())
    review = _review(change_id, "admin-2")

    async def scenario():
        async with wf.worker(*task_activities(rec), _apply(rec)) as tq:
            handle = await wf.client.start_workflow(
                CreditLimitChangeWorkflow.run, LimitChangeInput(change_id, "D0042", review),
                id=limit_change_workflow_id(change_id), task_queue=tq)
            [escalated] = await rec.wait_for("escalate_task")
            with wf.env.with_time_skipping_disabled():
                await wf.client.get_workflow_handle(f"task-{review.task_id}").execute_update(
                    HumanTaskWorkflow.complete, CompleteTaskInput(review.task_id, "reject", "fin-3", "overdue"))
            return escalated, await handle.result()

    escalated, result = wf.run(scenario())
    assert escalated.escalate_to == "finance" and result == "rejected"
    assert rec.args("apply_limit_change")[0].task.comment == "overdue"
