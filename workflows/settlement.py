"""One workflow per settlement run: freeze the figures and issue statements → wait for the dealers
(silence confirms at the deadline; each dispute becomes a finance task whose resolution may issue
a revised statement) → finance approval, and a second approver over the rule file's threshold →
post the rebates in batches → close with the totals.

Confirmations are rows written by the API; the workflow is woken by one signal when the last
statement is answered or a dispute arrives, so its history grows with disputes, not with dealers.
A schedule per program starts `SettlementScheduleWorkflow`, which starts the runs that are due."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair as Pair
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (REBATE_PROGRAM, SETTLEMENT_PERIOD, STAGE, ApprovalInput,
                                      ApprovalOutcomeInput, CloseRunInput, DisputeOutcomeInput, DueRunsInput,
                                      FreezeResult, PostInput, PostResult, ReviewInput, ReviewState, RunResult,
                                      SettlementFailedInput, SettlementInput, TaskResult, TaskSpec)
    from dealerflow.contracts.rebates import workflow_id_for

from .human_task import ask

RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["SettlementError"])
ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RETRY)
# Freezing a large run takes a while; its heartbeats let a killed worker's attempt be retried soon.
FREEZE = dict(start_to_close_timeout=timedelta(minutes=30), heartbeat_timeout=timedelta(seconds=20),
              retry_policy=RETRY)
# Statements held by another transaction are posted on the next pass, this long after.
POSTING_PAUSE = timedelta(seconds=2)


def failure_of(e: ActivityError) -> str:
    """What a person reads about a step that failed for good: the activity's own message."""
    cause = e.cause
    return (cause.message if isinstance(cause, ApplicationError) else str(cause or e)) or "failed"


@workflow.defn
class SettlementWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._woken = False
        self._disputes: dict[str, asyncio.Task] = {}
        self._figures: dict = {}
        self._acting: TaskResult | None = None  # the decision being applied, told if applying it fails

    @workflow.run
    async def run(self, inp: SettlementInput) -> RunResult:
        try:
            return await self._run(inp)
        except ActivityError as e:  # a step failed for good (the worker made it non-retryable)
            error = failure_of(e)
            await workflow.execute_activity(
                "settlement_failed", SettlementFailedInput(inp.run_id, e.activity_type, error, workflow.now(),
                                                           task=self._acting, actor=inp.actor), **ACTIVITY)
            self._figures["failure"] = {"step": e.activity_type, "error": error}
            await self._set_stage("failed")
            raise ApplicationError(f"{e.activity_type} failed: {error}", type="StepFailed",
                                   non_retryable=True) from e

    async def _run(self, inp: SettlementInput) -> RunResult:
        await self._set_stage("freezing")
        frozen = await workflow.execute_activity("freeze_run", inp, result_type=FreezeResult, **FREEZE)
        self._figures.update(statements=frozen.statements, rebate=frozen.rebate_total)
        await self._set_stage("awaiting_confirmation")
        await self._await_dealers(inp.run_id)
        await self._set_stage("awaiting_approval")
        if not await self._approved(inp.run_id):
            return await self._close(inp.run_id, "rejected")
        await self._set_stage("posting")
        while True:
            await self._post(inp.run_id)
            totals = await workflow.execute_activity(
                "close_run", CloseRunInput(inp.run_id, "closed", workflow.now()), result_type=dict, **ACTIVITY)
            if not totals.get("incomplete"):
                await self._set_stage("closed")
                return RunResult(inp.run_id, "closed", totals)
            await workflow.sleep(POSTING_PAUSE)  # a statement was confirmed or released meanwhile

    async def _post(self, run_id: str) -> None:
        """Post until no confirmed statement is left. Statements another transaction holds are
        skipped by a batch and counted as left: pause, and post them on the next pass."""
        posted = self._figures.get("posted", 0)
        while True:
            done = await workflow.execute_activity(
                "post_rebates", PostInput(run_id, workflow.now()), result_type=PostResult, **ACTIVITY)
            posted += done.posted
            self._figures["posted"] = posted
            if done.left == 0:
                return
            if done.posted == 0:
                await workflow.sleep(POSTING_PAUSE)

    async def _await_dealers(self, run_id: str) -> None:
        while True:
            self._woken = False
            state = await workflow.execute_activity(
                "review_statements", ReviewInput(run_id, workflow.now()), result_type=ReviewState, **ACTIVITY)
            self._figures.update(waiting=state.waiting, disputed=state.disputed)
            self._figures["auto_confirmed"] = self._figures.get("auto_confirmed", 0) + state.auto_confirmed
            for spec in state.new_disputes:
                if spec.task_id not in self._disputes:
                    self._disputes[spec.task_id] = asyncio.create_task(self._dispute(run_id, spec))
            if state.waiting == 0 and state.disputed == 0 and not self._disputes:
                return
            timeout = None
            if state.next_deadline is not None:
                timeout = max(state.next_deadline - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=timeout)
            except asyncio.TimeoutError:
                pass

    async def _dispute(self, run_id: str, spec: TaskSpec) -> None:
        result = await ask(spec)
        try:
            await workflow.execute_activity(
                "resolve_dispute",
                DisputeOutcomeInput(run_id, spec.subject_id, result, workflow.now()), result_type=str, **ACTIVITY)
        except ActivityError as e:  # the statement goes back to finance, who are told why
            await workflow.execute_activity(
                "settlement_failed", SettlementFailedInput(run_id, "resolve_dispute", failure_of(e), workflow.now(),
                                                           task=result, statement_id=spec.subject_id), **ACTIVITY)
        del self._disputes[spec.task_id]
        self._woken = True

    async def _approved(self, run_id: str) -> bool:
        approvers: list[str] = []
        for step in (1, 2):
            spec = await workflow.execute_activity(
                "approval_task",
                ApprovalInput(run_id, step, str(workflow.uuid4()), approvers), result_type=TaskSpec | None, **ACTIVITY)
            if spec is None:  # under the threshold: one approval is enough
                return True
            result = await ask(spec)
            self._acting = result
            await workflow.execute_activity(
                "record_approval", ApprovalOutcomeInput(run_id, step, result), **ACTIVITY)
            self._acting = None
            if result.outcome != "approve":
                return False
            approvers.append(result.actor)
        return True

    async def _close(self, run_id: str, status: str) -> RunResult:
        totals = await workflow.execute_activity(
            "close_run", CloseRunInput(run_id, status, workflow.now()), result_type=dict, **ACTIVITY)
        await self._set_stage(status)
        return RunResult(run_id, status, totals)

    async def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    @workflow.signal
    def statements_changed(self) -> None:
        """A dealer answered the last waiting statement, or disputed one: look again now."""
        self._woken = True

    @workflow.query
    def progress(self) -> dict:
        return {"stage": self._stage, "open_disputes": len(self._disputes), **self._figures}


@workflow.defn
class SettlementScheduleWorkflow:
    """Started by a program's Temporal Schedule: starts the runs that are due, each once."""

    @workflow.run
    async def run(self, inp: DueRunsInput) -> list[str]:
        due = await workflow.execute_activity(
            "due_runs", DueRunsInput(inp.program, workflow.now(), inp.actor), result_type=list[SettlementInput],
            **ACTIVITY)
        started = []
        for run in due:
            try:
                await workflow.start_child_workflow(
                    SettlementWorkflow.run, run, id=workflow_id_for(run.run_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=workflow.info().typed_search_attributes.updated(
                        Pair(REBATE_PROGRAM, run.program), Pair(SETTLEMENT_PERIOD, run.period),
                        Pair(STAGE, "starting")))
                started.append(run.run_id)
            except WorkflowAlreadyStartedError:  # started on demand before the schedule fired
                pass
        return started
