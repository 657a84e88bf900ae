"""PolicyRolloutWorkflow: delivery waves, chase sweeps on the skipped clock, pilot and promotion,
amendment, withdrawal and closing at the end of the effective window."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError

from dealerflow.contracts import (AmendApplied, AmendInput, CloseInput, CloseResult, DeliverInput, PilotInput,
                                  PilotVerdict, PolicyStatusInput, RolloutInput, RolloutPlan, RolloutResult,
                                  SweepInput, SweepResult, TaskSpec, WithdrawInput)
from workflows import PolicyRolloutWorkflow

from .doubles import Recorder, spec, task_activities, wait_for_event

HOUR, DAY = 3600, 86400
SLACK = timedelta(minutes=1)  # the skipped clock lands on a timer, plus the moments the workflow takes


def near(actual: datetime, expected: datetime) -> bool:
    return expected <= actual < expected + SLACK


class PolicyDoubles:
    """activities/policies.py as doubles, with just enough state to be faithful: undelivered targets
    go out in batches of `limit`, and close_policy reports the task workflows still open."""

    def __init__(self, rec: Recorder, *, targets: int, offsets: list[int], window: timedelta,
                 pilot_seconds: int | None = None, decided_by: str | None = None, verdict: PilotVerdict | None = None,
                 escalations: dict[int, list[TaskSpec]] | None = None):
        self.rec, self.undelivered = rec, targets
        self.offsets, self.window = offsets, window
        self.pilot_seconds, self.decided_by, self.verdict = pilot_seconds, decided_by, verdict
        self.escalations = escalations or {}  # sweep number → escalation tasks it returns
        self.open_tasks: set[str] = set()
        self.plan: RolloutPlan | None = None

    def activities(self) -> list:
        rec = self.rec
        tasks = task_activities(rec, open_tasks=self.open_tasks)

        @activity.defn(name="begin_rollout")
        async def begin_rollout(inp: RolloutInput) -> RolloutPlan:
            rec.add("begin_rollout", inp)
            now = activity.info().scheduled_time
            self.plan = RolloutPlan(inp.policy_id, inp.version, targets=self.undelivered, pilot_targets=2,
                                    chase_offsets=self.offsets, close_at=now + self.window,
                                    pilot_seconds=self.pilot_seconds, pilot_decided_by=self.decided_by,
                                    pilot_decision_sla_seconds=2 * DAY if self.pilot_seconds else None)
            return self.plan

        @activity.defn(name="deliver_batch")
        async def deliver_batch(inp: DeliverInput) -> int:
            rec.add("deliver_batch", inp)
            n = min(inp.limit, self.undelivered)
            self.undelivered -= n
            return n

        @activity.defn(name="sweep")
        async def sweep(inp: SweepInput) -> SweepResult:
            rec.add("sweep", inp)
            return SweepResult(reminded=2, overdue=1, escalation_tasks=self.escalations.get(len(rec.of("sweep")), []))

        @activity.defn(name="set_policy_status")
        async def set_policy_status(inp: PolicyStatusInput) -> None:
            rec.add("set_policy_status", inp.value)

        @activity.defn(name="pilot_verdict")
        async def pilot_verdict(inp: PilotInput) -> PilotVerdict:
            rec.add("pilot_verdict", inp)
            return self.verdict

        @activity.defn(name="pilot_task")
        async def pilot_task(inp: PilotInput) -> TaskSpec:
            rec.add("pilot_task", inp)
            return spec(inp.task_id, kind="policy_pilot", subject_type="policy", subject_id=inp.policy_id,
                        assignee_role=self.decided_by or "hq", outcomes=["promote", "amend", "cancel"],
                        sla_seconds=2 * DAY, escalate_to=None)

        @activity.defn(name="record_pilot_outcome")
        async def record_pilot_outcome(inp: PolicyStatusInput) -> None:
            rec.add("record_pilot_outcome", inp.value)

        @activity.defn(name="amend_policy")
        async def amend_policy(inp: AmendApplied) -> RolloutPlan:
            rec.add("amend_policy", inp)
            self.undelivered = self.plan.targets  # every target must acknowledge the new version
            return RolloutPlan(**{**self.plan.__dict__, "version": inp.version, "pilot_seconds": None})

        @activity.defn(name="close_policy")
        async def close_policy(inp: CloseInput) -> CloseResult:
            rec.add("close_policy", inp)
            return CloseResult([f"task-{t}" for t in sorted(self.open_tasks)], {"delivered": self.plan.targets})

        @activity.defn(name="send_notifications")
        async def send_notifications() -> int:
            rec.add("send_notifications")
            return 0

        return tasks + [begin_rollout, deliver_batch, sweep, set_policy_status, pilot_verdict, pilot_task,
            record_pilot_outcome, amend_policy, close_policy, send_notifications]


def start(wf, tq, policy_id, **kw):
    return wf.client.start_workflow(PolicyRolloutWorkflow.run, RolloutInput(policy_id, 1, "hq-1"),
                                    id=f"policy-{policy_id}", task_queue=tq, **kw)


def new_policy() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def test_delivers_in_waves_until_nothing_is_left_chases_at_each_offset_and_closes_at_the_window_end(wf):
    rec, pid = Recorder(), new_policy()
    policy = PolicyDoubles(rec, targets=2300, offsets=[HOUR, DAY, 3 * DAY], window=timedelta(days=10))

    async def scenario():
        async with wf.worker(*policy.activities()) as tq:
            handle = await start(wf, tq, pid)
            result = await handle.result()
            return result, await handle.query(PolicyRolloutWorkflow.progress)

    result, progress = wf.run(scenario())
    assert result == RolloutResult(pid, 1, "closed")
    deliveries = rec.args("deliver_batch")
    # Four batches in flight; a full round (4 × 500) means there may be more, a short one ends the wave.
    assert len(deliveries) == 8 and {(d.now, d.pilot_only, d.limit) for d in deliveries} == {(deliveries[0].now, False, 500)}
    t0 = deliveries[0].now
    assert [s.now - t0 for s in rec.args("sweep")] == pytest.approx(
        [timedelta(hours=1), timedelta(days=1), timedelta(days=3)], abs=SLACK)
    assert all(near(s.now, t0 + timedelta(seconds=o)) for s, o in zip(rec.args("sweep"), policy.offsets))
    [close] = rec.args("close_policy")
    assert (close.status, close.actor, close.reason) == ("closed", "hq-1", "")
    assert near(close.now, policy.plan.close_at)
    assert rec.args("set_policy_status") == ["rolling_out", "active"]
    assert rec.names().count("send_notifications") == 1 + 3 + 1  # after the wave, each sweep, and closing
    assert (progress["stage"], progress["delivered"], progress["sweeps"], progress["reminded"],
            progress["overdue"], progress["next_sweep"]) == ("closed", 2300, 3, 6, 3, None)


def test_pilot_promoted_by_the_rules_then_rolls_out_to_everyone(wf):
    rec, pid = Recorder(), new_policy()
    policy = PolicyDoubles(rec, targets=40, offsets=[DAY], window=timedelta(days=30), pilot_seconds=7 * DAY,
                           verdict=PilotVerdict(True, "pilot.dealers >= 1", {"dealers": 2}))

    async def scenario():
        async with wf.worker(*policy.activities()) as tq:
            return await (await start(wf, tq, pid)).result()

    assert wf.run(scenario()).status == "closed"
    assert rec.args("set_policy_status") == ["pilot", "rolling_out", "active"]
    pilot, wave = rec.args("deliver_batch")[0], rec.args("deliver_batch")[-1]
    assert pilot.pilot_only and not wave.pilot_only
    t0 = pilot.now
    [verdict] = rec.args("pilot_verdict")
    assert near(verdict.now, t0 + timedelta(days=7))  # the pilot's duration, on the skipped clock
    assert near(wave.now, verdict.now)
    # The pilot wave is chased during the pilot, the full wave after promotion.
    assert [s.now for s in rec.args("sweep")] == pytest.approx([t0 + timedelta(days=1), wave.now + timedelta(days=1)],
                                                               abs=SLACK)
    assert "pilot_task" not in rec.names() and "open_task" not in rec.names()
    assert near(rec.args("close_policy")[0].now, policy.plan.close_at)


def test_pilot_short_of_the_rules_goes_to_hq_whose_cancel_ends_the_rollout(wf):
    rec, pid = Recorder(), new_policy()
    policy = PolicyDoubles(rec, targets=40, offsets=[DAY], window=timedelta(days=30), pilot_seconds=7 * DAY,
                           verdict=PilotVerdict(False, "pilot.orders >= 10 (was 3)", {"orders": 3}))

    async def scenario():
        async with wf.worker(*policy.activities()) as tq:
            handle = await start(wf, tq, pid)
            [task] = await rec.wait_for("open_task")
            assert (task.kind, task.assignee_role, task.payload) == (
                "policy_pilot", "hq", {"promotion_rules": "pilot.orders >= 10 (was 3)"})
            assert (await handle.query(PolicyRolloutWorkflow.progress))["stage"] == "awaiting_decision"
            await wf.client.get_workflow_handle(f"task-{task.task_id}").execute_update(
                "complete", {"task_id": task.task_id, "outcome": "cancel", "actor": "hq-2", "comment": ""})
            return await handle.result()

    assert wf.run(scenario()) == RolloutResult(pid, 1, "cancelled")
    assert rec.args("set_policy_status") == ["pilot", "awaiting_decision"]
    assert rec.args("record_pilot_outcome") == ["cancel"]
    assert rec.args("pilot_task")[0].task_id == rec.args("open_task")[0].task_id
    [close] = rec.args("close_policy")
    assert (close.status, close.actor) == ("cancelled", "hq-1")
    assert all(d.pilot_only for d in rec.args("deliver_batch"))  # nobody outside the pilot heard of it


def test_an_amendment_redelivers_and_restarts_the_chase_clock(wf):
    rec, pid = Recorder(), new_policy()
    policy = PolicyDoubles(rec, targets=10, offsets=[HOUR, 2 * HOUR], window=timedelta(days=30))

    async def scenario():
        async with wf.worker(*policy.activities()) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await start(wf, tq, pid)
            await rec.wait_for("set_policy_status", 2)  # active
            await wait_for_event(handle, "timer_started")
            assert await wf.env.fast_forward(handle, timedelta(minutes=90))  # past the first offset only
            assert len(rec.of("sweep")) == 1
            assert await handle.execute_update(PolicyRolloutWorkflow.amend, AmendInput(2, "hq-2")) == 2
            with pytest.raises(WorkflowUpdateFailedError) as again:
                await handle.execute_update(PolicyRolloutWorkflow.amend, AmendInput(2, "hq-2"))
            assert again.value.cause.type == "NotNewer"
            await wf.env.fast_forward(handle)  # skip to the end
            return await handle.result()

    assert wf.run(scenario()) == RolloutResult(pid, 2, "closed")
    first, amended = rec.args("deliver_batch")[0], rec.args("deliver_batch")[-1]
    assert (first.version, amended.version) == (1, 2)
    assert near(amended.now, first.now + timedelta(minutes=90))
    assert [a.version for a in rec.args("amend_policy")] == [2]
    sweeps = rec.args("sweep")
    # v1 was chased at +1h; its +2h sweep never happens: the amendment restarts both offsets.
    expected = [(1, first.now + timedelta(hours=1)), (2, amended.now + timedelta(hours=1)),
                (2, amended.now + timedelta(hours=2))]
    assert len(sweeps) == 3 and all(s.version == v and near(s.now, t) for s, (v, t) in zip(sweeps, expected)), sweeps
    assert near(rec.args("close_policy")[0].now, policy.plan.close_at)


def test_withdrawal_closes_the_rollout_at_once_with_the_reason(wf):
    rec, pid = Recorder(), new_policy()
    policy = PolicyDoubles(rec, targets=10, offsets=[DAY], window=timedelta(days=30))

    async def scenario():
        async with wf.worker(*policy.activities()) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await start(wf, tq, pid)
            await rec.wait_for("set_policy_status", 2)
            status = await handle.execute_update(PolicyRolloutWorkflow.withdraw, WithdrawInput("hq-3", "budget cut"))
            return status, await handle.result()

    status, result = wf.run(scenario())
    assert (status, result) == ("withdrawn", RolloutResult(pid, 1, "withdrawn"))
    [close] = rec.args("close_policy")
    assert (close.status, close.actor, close.reason) == ("withdrawn", "hq-3", "budget cut")
    assert "sweep" not in rec.names()


def test_closing_cancels_the_open_escalation_tasks_before_the_policy_is_marked_closed(wf):
    """Regression: the policy used to be marked closed first, so for a moment (and in
    tests/test_policy_rollout.py, one run in three) a closed policy still had open tasks."""
    rec, pid = Recorder(), new_policy()
    escalation = spec(str(uuid.uuid4()), kind="policy_escalation", subject_type="policy", subject_id=pid,
                      assignee_role="account_manager", outcomes=["done"], sla_seconds=60 * DAY, escalate_to=None)
    # The window ends two (real) seconds after the sweep that opens the task: a running child
    # workflow is work in flight, which time skipping does not skip over.
    policy = PolicyDoubles(rec, targets=10, offsets=[HOUR], window=timedelta(hours=1, seconds=2),
                           escalations={1: [escalation]})

    async def scenario():
        async with wf.worker(*policy.activities()) as tq:
            result = await (await start(wf, tq, pid)).result()
            await rec.wait_for("cancel_task")
            return result

    assert wf.run(scenario()).status == "closed"
    assert [s.task_id for s in rec.args("open_task")] == [escalation.task_id]
    names = rec.names()
    assert names.index("cancel_task") < names.index("close_policy"), names
    assert rec.args("cancel_task")[0].task_id == escalation.task_id
    assert rec.args("close_policy")[0].status == "closed"
