"""One workflow per month scores every dealer's credit: score them all (one heartbeating activity) →
apply ratings, decreases and small increases → start one approval workflow per increase that waits
for people → close with the totals. `CreditIncreaseWorkflow` asks a credit manager, then (over the
file's second threshold) a second person who is not the first, through the human-task workflow.
`CreditScheduleWorkflow`, started by the monthly Temporal Schedule, starts the month's run (id per
month, so a month runs once however it is asked for)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair as Pair, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (CREDIT_RUN_DATE, DEALER_ID, STAGE, CreditApplyResult, CreditApprovalInput,
                                      CreditApprovalOutcomeInput, CreditIncreaseInput, CreditScoreResult,
                                      CreditScoringInput, CreditScoringResult, CreditStepInput, TaskSpec)
    from dealerflow.contracts.credit import increase_workflow_id, run_date, workflow_id_for
    from dealerflow.contracts.tiering import month_of

from .human_task import ask

RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["CreditRunError"])
ACTIVITY = dict(start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
SCORE = dict(start_to_close_timeout=timedelta(minutes=30), heartbeat_timeout=timedelta(seconds=30), retry_policy=RETRY)


@workflow.defn
class CreditScoringWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._figures: dict = {}

    @workflow.run
    async def run(self, inp: CreditScoringInput) -> CreditScoringResult:
        month = inp.month

        def step() -> CreditStepInput:
            return CreditStepInput(month, workflow.now(), inp.actor)

        await self._set_stage("scoring")
        scored = await workflow.execute_activity("score_credit", step(), result_type=CreditScoreResult, **SCORE)
        self._figures.update(dealers=scored.dealers, changes=scored.changes)
        await self._set_stage("applying")
        applied = await workflow.execute_activity("apply_credit_changes", step(), result_type=CreditApplyResult,
                                                  **ACTIVITY)
        self._figures.update(applied=applied.applied, decreased=applied.decreases, awaiting=len(applied.awaiting))
        # The run's totals are final now; the approvals are each dealer's own process.
        totals = await workflow.execute_activity("close_credit_run", step(), result_type=dict, **ACTIVITY)

        async def ask_about(dealer_id: int) -> None:
            try:  # people answer in their own time; the run does not wait for them
                await workflow.start_child_workflow(
                    CreditIncreaseWorkflow.run, CreditIncreaseInput(month, dealer_id),
                    id=increase_workflow_id(month, dealer_id), parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=workflow.info().typed_search_attributes.updated(
                        Pair(DEALER_ID, str(dealer_id)), Pair(STAGE, "awaiting_approval")))
            except WorkflowAlreadyStartedError:  # a retried run
                pass

        # every increase's approval started at once: one workflow task, not one round trip each
        await asyncio.gather(*(ask_about(d) for d in applied.awaiting))
        await workflow.execute_activity(
            "send_notifications", result_type=int, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
        await self._set_stage("closed")
        return CreditScoringResult(month, totals)

    async def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    @workflow.query
    def progress(self) -> dict:
        return {"stage": self._stage, **self._figures}


@workflow.defn
class CreditIncreaseWorkflow:
    """One dealer's limit increase: the first approver, then a second person when the increase is
    over the second threshold (four eyes: the task refuses the first approver)."""

    @workflow.run
    async def run(self, inp: CreditIncreaseInput) -> str:
        approvers: list[str] = []
        status = "closed"  # nothing (more) to ask: decided or superseded before a person was asked
        for step in (1, 2):
            spec = await workflow.execute_activity(
                "credit_increase_task", CreditApprovalInput(inp.month, inp.dealer_id, step, str(workflow.uuid4()),
                                                            approvers), result_type=TaskSpec | None, **ACTIVITY)
            if spec is None:
                break
            result = await ask(spec)
            status = await workflow.execute_activity(
                "record_credit_approval",
                CreditApprovalOutcomeInput(inp.month, inp.dealer_id, step, result, workflow.now()),
                result_type=str, **ACTIVITY)
            if status != "awaiting_approval":
                break
            approvers.append(result.actor)
        workflow.upsert_search_attributes([STAGE.value_set(status)])
        return status


@workflow.defn
class CreditScheduleWorkflow:
    """Started by the monthly schedule: starts the run of the month it fires in, unless it ran."""

    @workflow.run
    async def run(self, inp: CreditScoringInput) -> str:
        month = inp.month or month_of(workflow.now())
        try:
            await workflow.start_child_workflow(
                CreditScoringWorkflow.run, CreditScoringInput(month, inp.actor), id=workflow_id_for(month),
                parent_close_policy=ParentClosePolicy.ABANDON, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=workflow.info().typed_search_attributes.updated(
                    Pair(CREDIT_RUN_DATE, run_date(month)), Pair(STAGE, "starting")))
        except WorkflowAlreadyStartedError:  # a credit manager ran it on demand before the schedule fired
            pass
        return month
