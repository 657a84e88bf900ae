"""One workflow per month re-tiers every dealer: score them all (one heartbeating activity) → apply
the changes → flag silent dealers and hand their activation to account managers → ask a person to
approve the downgrades the rule file holds back → close with the totals. The history grows with
the steps, not with the dealers. `TieringScheduleWorkflow`, started by the monthly Temporal
Schedule, starts the month's run (id per month, so a month runs once however it is asked for)."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair as Pair, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, TIERING_MONTH, ApplyResult, DowngradeOutcomeInput,
                                      RetieringInput, RetieringResult, ScoreResult, SilentResult, TaskSpec,
                                      TieringStepInput)
    from dealerflow.contracts.tiering import month_of, workflow_id_for

from .human_task import ask, start_task

RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["TieringError"])
ACTIVITY = dict(start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
# Scoring every dealer takes a while; its heartbeats let a killed worker's attempt be retried soon.
SCORE = dict(start_to_close_timeout=timedelta(minutes=30), heartbeat_timeout=timedelta(seconds=30), retry_policy=RETRY)


@workflow.defn
class RetieringWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._figures: dict = {}

    @workflow.run
    async def run(self, inp: RetieringInput) -> RetieringResult:
        month = inp.month

        def step(**kw) -> TieringStepInput:
            return TieringStepInput(month, workflow.now(), inp.actor, **kw)

        await self._set_stage("scoring")
        scored = await workflow.execute_activity("score_dealers", step(), result_type=ScoreResult, **SCORE)
        self._figures.update(dealers=scored.dealers, changes=scored.changes)
        await self._set_stage("applying")
        applied = await workflow.execute_activity(
            "apply_tier_changes", step(task_id=str(workflow.uuid4())), result_type=ApplyResult, **ACTIVITY)
        self._figures.update(applied=applied.applied, awaiting_approval=applied.awaiting)
        silent = await workflow.execute_activity("flag_silent_dealers", step(), result_type=SilentResult, **ACTIVITY)
        self._figures.update(silent_flagged=silent.flagged, activated=silent.activated)
        for spec in silent.tasks:
            await self._start_task(spec)
        if applied.approval is not None:
            await self._set_stage("awaiting_approval")
            result = await ask(applied.approval)
            await workflow.execute_activity(
                "decide_downgrades", DowngradeOutcomeInput(month, result, workflow.now()), result_type=int, **ACTIVITY)
        totals = await workflow.execute_activity("close_tiering_run", step(), result_type=dict, **ACTIVITY)
        await workflow.execute_activity(
            "send_notifications", result_type=int, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
        await self._set_stage("closed")
        return RetieringResult(month, totals)

    async def _start_task(self, spec: TaskSpec) -> None:
        # Account managers answer in their own time; the run does not wait for them.
        try:
            await start_task(spec, detached=True)
        except WorkflowAlreadyStartedError:  # a retried step returned the same task
            pass

    async def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    @workflow.query
    def progress(self) -> dict:
        return {"stage": self._stage, **self._figures}


@workflow.defn
class TieringScheduleWorkflow:
    """Started by the monthly schedule: starts the run of the month it fires in, unless it ran."""

    @workflow.run
    async def run(self, inp: RetieringInput) -> str:
        month = inp.month or month_of(workflow.now())
        try:
            await workflow.start_child_workflow(
                RetieringWorkflow.run, RetieringInput(month, inp.actor), id=workflow_id_for(month),
                parent_close_policy=ParentClosePolicy.ABANDON, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=workflow.info().typed_search_attributes.updated(
                    Pair(TIERING_MONTH, month), Pair(STAGE, "starting")))
        except WorkflowAlreadyStartedError:  # HQ ran it on demand before the schedule fired
            pass
        return month
