"""One workflow per policy: resolve targets → (pilot → promote, amend or cancel) → deliver in
batches → chase acknowledgments and task due dates → close with final figures.

Scale lives in the database: delivery is a few activities of hundreds of dealers each, chasing is a
set-based sweep at each offset of the policy file, and acknowledgments are rows, not signals. The
history therefore grows with the number of offsets and amendments, not with the number of dealers."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, AmendApplied, AmendInput, CloseInput, CloseResult,
                                      DeliverInput, PilotInput, PilotVerdict, PolicyStatusInput, RolloutInput,
                                      RolloutPlan, RolloutResult, StepFailedInput, SweepInput, SweepResult, TaskSpec,
                                      WithdrawInput)

from .human_task import start_task

ACTIVITY = dict(start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
PARALLEL_DELIVERIES = 4  # batches in flight at once; they skip each other's rows in the database


@workflow.defn
class PolicyRolloutWorkflow:
    @workflow.init
    def __init__(self, inp: RolloutInput) -> None:
        # Set from the input here, not in run(): an update can arrive in the very first task.
        self._policy, self._version = inp.policy_id, inp.version
        self._stage = "starting"
        self._plan: RolloutPlan | None = None
        self._wakeups: list[datetime] = []
        self._amendments: list[AmendInput] = []
        self._withdraw: WithdrawInput | None = None
        self._pilot_only = False
        self._closed: str | None = None
        self._task_children: list = []  # the escalation task workflows this rollout started
        self._close_failed: str | None = None  # why the last close failed: HQ may withdraw again
        self._close_failures = 0
        self._counts = {"delivered": 0, "reminded": 0, "escalated": 0, "overdue": 0, "tasks_reminded": 0,
                        "tasks_overdue": 0, "escalation_tasks": 0, "sweeps": 0}

    @workflow.run
    async def run(self, inp: RolloutInput) -> RolloutResult:
        self._plan = await workflow.execute_activity("begin_rollout", inp, result_type=RolloutPlan, **ACTIVITY)
        outcome = "promote"
        if self._plan.pilot_seconds:
            outcome = await self._pilot()
        if outcome == "promote" and not self._withdraw:
            await self._set_stage("rolling_out")
            self._pilot_only = False
            await self._deliver()
            await self._set_stage("active")
            outcome = await self._chase(deadline=self._close_at)
        status = {"promote": "closed", "done": "closed"}.get(outcome, outcome)
        return await self._close(status, self._withdraw.actor if self._withdraw else inp.actor)

    # --- pilot ---------------------------------------------------------------------------------

    async def _pilot(self) -> str:
        """Deliver to the pilot, wait its duration while chasing, then promote by the rules or ask HQ.
        'amend' waits for the amended version and pilots it again."""
        self._pilot_only = True
        await self._set_stage("pilot")
        await self._deliver()
        while True:
            end = workflow.now() + timedelta(seconds=self._plan.pilot_seconds)
            if await self._chase(deadline=lambda: end) == "withdrawn":
                return "withdrawn"
            pilot = PilotInput(self._policy, self._version, workflow.now(), str(workflow.uuid4()))
            reason = ""
            if self._plan.pilot_decided_by is None:
                verdict = await workflow.execute_activity("pilot_verdict", pilot, result_type=PilotVerdict, **ACTIVITY)
                if verdict.promote:
                    return "promote"
                reason = verdict.reason  # the figures fall short: HQ decides, nobody is left waiting
            decision = await self._hq_decision(pilot, reason)
            if decision in ("promote", "withdrawn"):
                return decision
            if decision == "cancel":
                return "cancelled"
            await self._set_stage("awaiting_amendment")
            version = self._version
            if await self._chase(until=lambda: self._version > version) == "withdrawn":
                return "withdrawn"
            await self._set_stage("pilot")

    async def _hq_decision(self, pilot: PilotInput, reason: str) -> str:
        spec: TaskSpec = await workflow.execute_activity("pilot_task", pilot, result_type=TaskSpec, **ACTIVITY)
        if reason:
            spec.payload["promotion_rules"] = reason
        await self._set_stage("awaiting_decision")
        child = await start_task(spec)
        if await self._chase(until=child.done) == "withdrawn":
            return "withdrawn"
        result = await child
        await workflow.execute_activity(
            "record_pilot_outcome",
            PolicyStatusInput(self._policy, result.outcome), **ACTIVITY)
        return result.outcome

    # --- delivery and chasing ------------------------------------------------------------------

    async def _deliver(self) -> None:
        """Deliver to every undelivered target in batches, then schedule the chase of this wave."""
        now = workflow.now()
        while True:
            batch = DeliverInput(self._policy, self._version, now, pilot_only=self._pilot_only)
            done = await asyncio.gather(*[
                workflow.execute_activity("deliver_batch", batch, result_type=int, **ACTIVITY)
                for _ in range(PARALLEL_DELIVERIES)])
            self._counts["delivered"] += sum(done)
            if sum(done) < PARALLEL_DELIVERIES * batch.limit:
                break
        self._schedule(now)
        await self._send_notifications()

    def _schedule(self, start: datetime) -> None:
        self._wakeups = sorted(set(self._wakeups) | {start + timedelta(seconds=s) for s in self._plan.chase_offsets})

    async def _chase(self, until=lambda: False, deadline=None) -> str:
        """Sweep at every scheduled wake-up until `until()` holds or the `deadline()` time passes;
        apply amendments as they come. Returns 'done', or 'withdrawn' when HQ withdraws the policy."""
        while True:
            if self._withdraw:
                return "withdrawn"
            if self._amendments:
                await self._amend(self._amendments.pop(0))
                continue
            now = workflow.now()
            if any(w <= now for w in self._wakeups):
                self._wakeups = [w for w in self._wakeups if w > now]
                await self._sweep()
                continue
            if until() or (deadline and now >= deadline()):
                return "done"
            wake = min(self._wakeups + [self._close_at()] + ([deadline()] if deadline else []))
            try:
                await workflow.wait_condition(lambda: bool(self._withdraw or self._amendments) or until(),
                                              timeout=max(wake - now, timedelta(seconds=1)))
            except asyncio.TimeoutError:
                pass

    async def _sweep(self) -> None:
        result = await workflow.execute_activity(
            "sweep", SweepInput(self._policy, self._version, workflow.now()), result_type=SweepResult, **ACTIVITY)
        self._counts["sweeps"] += 1
        for key in ("reminded", "escalated", "overdue", "tasks_reminded", "tasks_overdue"):
            self._counts[key] += getattr(result, key)
        for spec in result.escalation_tasks:
            # Account managers answer in their own time; the rollout does not wait for them.
            try:
                self._task_children.append(await start_task(spec, detached=True))
                self._counts["escalation_tasks"] += 1
            except WorkflowAlreadyStartedError:  # a retried sweep returned the same task
                pass
        await self._send_notifications()

    async def _send_notifications(self) -> None:
        await workflow.execute_activity(
            "send_notifications", result_type=int, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))

    async def _amend(self, amendment: AmendInput) -> None:
        plan = await workflow.execute_activity(
            "amend_policy", AmendApplied(self._policy, amendment.version, workflow.now()), result_type=RolloutPlan,
            **ACTIVITY)
        self._plan = RolloutPlan(**{**plan.__dict__, "pilot_seconds": self._plan.pilot_seconds,
                                    "pilot_targets": self._plan.pilot_targets})
        self._version = amendment.version
        self._wakeups = []  # the amended version restarts every chase clock
        await self._deliver()

    def _close_at(self) -> datetime:
        """The end of the effective window, or the last chase step if that is later."""
        return max([self._plan.close_at] + self._wakeups)

    async def _close(self, status: str, actor: str) -> RolloutResult:
        await self._set_stage("closing")
        if workflow.patched("cancel-tasks-before-close"):
            # Cancel the tasks this rollout opened, and wait until they are cancelled, before the
            # policy is marked closed: a closed policy never shows open tasks.
            for child in self._task_children:
                child.cancel()
            await asyncio.gather(*self._task_children, return_exceptions=True)
        result, status = await self._close_policy(status, actor)
        for workflow_id in result.open_task_workflows:  # tasks it did not start (evidence reviews on withdrawal)
            try:
                await workflow.get_external_workflow_handle(workflow_id).cancel()
            except ApplicationError:
                pass  # already finished
        await self._send_notifications()
        self._closed = status
        await self._set_stage(status)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return RolloutResult(self._policy, self._version, status)

    async def _close_policy(self, status: str, actor: str) -> tuple[CloseResult, str]:
        """Close the policy. A close that fails for good leaves the rollout running and its policy as
        it was: the failure is listed for HQ, HQ and the person who asked are told, a waiting
        withdrawal is answered with the reason, and HQ can withdraw again."""
        while True:
            try:
                return await workflow.execute_activity(
                    "close_policy",
                    CloseInput(self._policy, status, actor, workflow.now(),
                               self._withdraw.reason if self._withdraw else ""),
                    result_type=CloseResult, **ACTIVITY), status
            except ActivityError as e:
                cause = e.cause
                error = cause.message if isinstance(cause, ApplicationError) else str(cause or e)
            await workflow.execute_activity("record_step_failure", StepFailedInput(
                workflow.info().workflow_id, "PolicyRolloutWorkflow", "close_policy", f"{status}: {error}",
                subject=f"policy {self._policy}", link=f"/console/policies/{self._policy}", notify_role="hq",
                actor=actor), **ACTIVITY)
            self._close_failed, self._withdraw = error, None
            self._close_failures += 1
            await self._set_stage("close_failed")
            await workflow.wait_condition(lambda: self._withdraw is not None)
            status, actor = "withdrawn", self._withdraw.actor
            await self._set_stage("closing")

    async def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])
        if stage in ("pilot", "awaiting_decision", "rolling_out", "active"):
            await workflow.execute_activity(
                "set_policy_status", PolicyStatusInput(self._policy, stage), **ACTIVITY)

    # --- HQ's hands on the rollout -------------------------------------------------------------

    @workflow.update
    async def amend(self, inp: AmendInput) -> int:
        self._amendments.append(inp)
        await workflow.wait_condition(lambda: self._version >= inp.version or self._closed is not None)
        if self._closed is not None and self._version < inp.version:
            raise ApplicationError(f"the rollout ended ({self._closed}) before the amendment", type="RolloutClosed")
        return self._version

    @amend.validator
    def _check_amend(self, inp: AmendInput) -> None:
        if self._closed is not None or self._withdraw is not None:
            raise ApplicationError("the rollout has ended", type="RolloutClosed")
        pending = max([a.version for a in self._amendments] + [self._version])
        if inp.version <= pending:
            raise ApplicationError(f"version {inp.version} is not newer than version {pending}", type="NotNewer")

    @workflow.update
    async def withdraw(self, inp: WithdrawInput) -> str:
        self._withdraw = inp
        failures = self._close_failures
        await workflow.wait_condition(lambda: self._closed is not None or self._close_failures > failures)
        if self._closed is None:
            raise ApplicationError(f"withdrawing failed: {self._close_failed}; the policy stays as it was, "
                                   "withdraw it again", type="CloseFailed")
        return self._closed

    @withdraw.validator
    def _check_withdraw(self, inp: WithdrawInput) -> None:
        if self._closed is not None or self._withdraw is not None:
            raise ApplicationError("the rollout has ended", type="RolloutClosed")

    @workflow.query
    def progress(self) -> dict:
        return {"policy_id": self._policy, "version": self._version, "stage": self._stage,
                "next_sweep": min(self._wakeups).isoformat() if self._wakeups else None, **self._counts}
