"""A person's decision as a child workflow: open the task, wait under its SLA, remind and escalate
when the SLA passes, and return the outcome. Every process that needs a human reuses this."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair as Pair
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ActivityCancellationType, ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, TASK_ROLE, CompleteTaskInput, EscalationResult, TaskResult, TaskSpec,
                                      task_workflow_id)

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))


async def start_task(spec: TaskSpec, *, detached: bool = False) -> ChildWorkflowHandle:
    """Ask a person, from inside a workflow: the task's child workflow, found in the Temporal UI by the
    parent's search attributes with the task's stage and role. A detached task outlives its parent
    (people answer in their own time); an attached one is cancelled when the parent no longer waits."""
    return await workflow.start_child_workflow(
        HumanTaskWorkflow.run, spec, id=task_workflow_id(spec.task_id),
        parent_close_policy=ParentClosePolicy.ABANDON if detached else ParentClosePolicy.TERMINATE,
        search_attributes=workflow.info().typed_search_attributes.updated(
            Pair(STAGE, "open"), Pair(TASK_ROLE, spec.assignee_role)))


async def ask(spec: TaskSpec) -> TaskResult:
    """Ask a person and wait for the answer."""
    return await (await start_task(spec))


@workflow.defn
class HumanTaskWorkflow:
    @workflow.init
    def __init__(self, spec: TaskSpec) -> None:
        # Known from the first step, so a completion that arrives with the start is not refused.
        self._spec = spec
        self._claimed: CompleteTaskInput | None = None
        self._result: TaskResult | None = None

    @workflow.run
    async def run(self, spec: TaskSpec) -> TaskResult:
        try:
            # A cancellation while the task is being opened waits for its row, so cancel_task finds it.
            await workflow.execute_activity("open_task", spec, **ACTIVITY,
                                            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
            return await self._await_person(spec)
        except asyncio.CancelledError:  # the process that asked no longer needs the answer
            await workflow.execute_activity(
                "cancel_task", TaskResult(spec.task_id, "cancelled", "system", "no longer needed"),
                **ACTIVITY)
            workflow.upsert_search_attributes([STAGE.value_set("cancelled")])
            raise

    async def _await_person(self, spec: TaskSpec) -> TaskResult:
        try:
            await workflow.wait_condition(lambda: self._result is not None,
                                          timeout=timedelta(seconds=spec.sla_seconds))
        except asyncio.TimeoutError:
            workflow.upsert_search_attributes([STAGE.value_set("escalated"),
                                               TASK_ROLE.value_set(spec.escalate_to or spec.assignee_role)])
            escalation = await workflow.execute_activity("escalate_task", spec, result_type=EscalationResult,
                                                         **ACTIVITY)
            if escalation.completed is not None and self._claimed is None:
                self._result = escalation.completed
            await workflow.wait_condition(lambda: self._result is not None)
        workflow.upsert_search_attributes([STAGE.value_set("completed")])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result

    @workflow.update
    async def complete(self, inp: CompleteTaskInput) -> TaskResult:
        if self._claimed is not None or self._result is not None:
            raise ApplicationError("task already completed", type="TaskAlreadyCompleted")
        self._claimed = inp
        result = TaskResult(inp.task_id, inp.outcome, inp.actor, inp.comment)
        await workflow.execute_activity("record_task_completion", result, **ACTIVITY)
        self._result = result
        return result

    @complete.validator
    def _validate(self, inp: CompleteTaskInput) -> None:
        if inp.task_id != self._spec.task_id:
            raise ApplicationError("no such task in this workflow", type="TaskNotFound")
        if self._claimed is not None or self._result is not None:
            raise ApplicationError("task already completed", type="TaskAlreadyCompleted")
        if inp.actor in self._spec.not_by:
            raise ApplicationError("someone else must decide this task (four eyes)", type="SameApprover")
        if inp.outcome not in self._spec.outcomes:
            raise ApplicationError(f"outcome must be one of {', '.join(self._spec.outcomes)}",
                                   type="InvalidOutcome")

    @workflow.query
    def state(self) -> dict:
        return {"claimed": self._claimed is not None, "done": self._result is not None}
