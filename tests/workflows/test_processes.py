"""The processes that ask people: settlement runs, orders sent to review, re-tiering with held-back
downgrades, diversion cases. Each on its happy path, with activity doubles."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError

from dealerflow.contracts import (
    ApplyResult,
    ApprovalInput,
    ApprovalOutcomeInput,
    CaseInput,
    CaseOutcomeInput,
    CaseResult,
    CloseRunInput,
    CompleteTaskInput,
    CreditDecision,
    DisputeOutcomeInput,
    DowngradeOutcomeInput,
    FreezeResult,
    Investigation,
    InvestigationInput,
    OrderResult,
    OrderStart,
    PostInput,
    PostResult,
    RetieringInput,
    RetieringResult,
    ReviewInput,
    ReviewOutcomeInput,
    ReviewState,
    RunResult,
    ScoreResult,
    SettlementInput,
    SilentResult,
    TaskSpec,
    TieringStepInput,
)
from workflows import (
    CaseWorkflow,
    HumanTaskWorkflow,
    OrderWorkflow,
    RetieringWorkflow,
    SettlementWorkflow,
)

from .doubles import Recorder, spec, task_activities

SLACK = timedelta(minutes=1)


async def complete(wf, task: TaskSpec, outcome: str, actor: str):
    return await wf.client.get_workflow_handle(f"task-{task.task_id}").execute_update(
        HumanTaskWorkflow.complete, CompleteTaskInput(task.task_id, outcome, actor))


# --- settlement --------------------------------------------------------------------------------

def settlement_activities(rec: Recorder, *, window: timedelta, posts: list[PostResult]) -> list:
    reviews = []

    @activity.defn(name="freeze_run")
    async def freeze_run(inp: SettlementInput) -> FreezeResult:
        rec.add("freeze_run", inp)
        return FreezeResult(inp.run_id, statements=3, rebate_total="1500.00", confirm_seconds=int(window.total_seconds()))

    @activity.defn(name="review_statements")
    async def review_statements(inp: ReviewInput) -> ReviewState:
        rec.add("review_statements", inp)
        reviews.append(inp.now)
        if len(reviews) == 1:  # nobody has answered yet
            return ReviewState(waiting=3, disputed=0, next_deadline=inp.now + window)
        if len(reviews) == 2:  # the window has passed: two silent dealers confirmed, one disputed
            dispute = spec(f"{uuid.uuid4()}", kind="settlement_dispute", subject_type="statement", subject_id="st-3",
                           assignee_role="finance", outcomes=["uphold", "revise"], sla_seconds=3 * 86400)
            return ReviewState(waiting=0, disputed=1, new_disputes=[dispute], auto_confirmed=2)
        return ReviewState(waiting=0, disputed=0)

    @activity.defn(name="resolve_dispute")
    async def resolve_dispute(inp: DisputeOutcomeInput) -> str:
        rec.add("resolve_dispute", inp)
        return "revised"

    @activity.defn(name="approval_task")
    async def approval_task(inp: ApprovalInput) -> TaskSpec | None:
        rec.add("approval_task", inp)
        return spec(inp.task_id, kind="settlement_approval", subject_type="settlement_run", subject_id=inp.run_id,
                    assignee_role="finance" if inp.step == 1 else "finance_director", not_by=list(inp.not_by))

    @activity.defn(name="record_approval")
    async def record_approval(inp: ApprovalOutcomeInput) -> None:
        rec.add("record_approval", inp)

    @activity.defn(name="post_rebates")
    async def post_rebates(inp: PostInput) -> PostResult:
        rec.add("post_rebates", inp)
        return posts.pop(0)

    @activity.defn(name="close_run")
    async def close_run(inp: CloseRunInput) -> dict:
        rec.add("close_run", inp)
        return {"statements": 3, "posted": "1500.00"}

    return task_activities(rec) + [freeze_run, review_statements, resolve_dispute, approval_task, record_approval,
                                   post_rebates, close_run]


def test_settlement_silence_confirms_at_the_deadline_disputes_become_tasks_two_approvers_then_posting(wf):
    rec = Recorder()
    run_id = f"run-{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with wf.worker(*settlement_activities(rec, window=timedelta(days=7), posts=[PostResult(500, 200), PostResult(0, 200), PostResult(200, 0)])) as tq:
            handle = await wf.client.start_workflow(
                SettlementWorkflow.run, SettlementInput(run_id, "spring", "2026-Q1", "2026-Q1", "finance-1"),
                id=f"settlement-{run_id}", task_queue=tq)
            [dispute] = await rec.wait_for("open_task")
            assert dispute.kind == "settlement_dispute"
            progress = await handle.query(SettlementWorkflow.progress)
            assert (progress["stage"], progress["auto_confirmed"], progress["open_disputes"]) == (
                "awaiting_confirmation", 2, 1)
            await complete(wf, dispute, "revise", "finance-2")
            _, first = await rec.wait_for("open_task", 2)
            assert (first.kind, first.not_by) == ("settlement_approval", [])
            await complete(wf, first, "approve", "fin-a")
            second = (await rec.wait_for("open_task", 3))[2]
            assert (second.assignee_role, second.not_by) == ("finance_director", ["fin-a"])
            with pytest.raises(WorkflowUpdateFailedError) as same:  # four eyes on the second approval
                await complete(wf, second, "approve", "fin-a")
            assert same.value.cause.type == "SameApprover"
            await complete(wf, second, "approve", "fin-b")
            return await handle.result(), await handle.query(SettlementWorkflow.progress)

    result, progress = wf.run(scenario())
    assert result == RunResult(run_id, "closed", {"statements": 3, "posted": "1500.00"})
    first_look, at_deadline, after_dispute = rec.args("review_statements")
    assert timedelta(days=7) <= at_deadline.now - first_look.now < timedelta(days=7) + SLACK  # skipped, not waited
    [resolved] = rec.args("resolve_dispute")
    assert (resolved.statement_id, resolved.task.outcome, resolved.task.actor) == ("st-3", "revise", "finance-2")
    assert after_dispute.now >= resolved.now
    assert [(a.step, a.not_by) for a in rec.args("approval_task")] == [(1, []), (2, ["fin-a"])]
    assert [(r.step, r.task.outcome, r.task.actor) for r in rec.args("record_approval")] == [
        (1, "approve", "fin-a"), (2, "approve", "fin-b")]
    # Posting goes on until no confirmed statement is left; a batch that found them all locked by
    # another transaction pauses before the next one.
    first_post, held, last_post = rec.args("post_rebates")
    assert last_post.now - held.now >= timedelta(seconds=1) > held.now - first_post.now
    assert [c.status for c in rec.args("close_run")] == ["closed"]
    names = rec.names()
    assert names.index("close_run") > max(i for i, n in enumerate(names) if n == "post_rebates")
    assert (progress["stage"], progress["posted"], progress["statements"], progress["rebate"]) == (
        "closed", 700, 3, "1500.00")


# --- orders ------------------------------------------------------------------------------------

def test_an_order_sent_to_review_waits_for_the_reviewer_and_applies_the_outcome(wf):
    rec = Recorder()
    order_id = str(uuid.uuid4())
    decision = CreditDecision(order_id, "pending_review", "review", "credit_approval", 3, "rating_c", "rating C",
                              "1200.00", "D001", review_role="credit_manager", review_sla_seconds=4 * 3600,
                              escalate_to="sales_director")

    @activity.defn(name="apply_review")
    async def apply_review(inp: ReviewOutcomeInput) -> str:
        rec.add("apply_review", inp)
        return "approved" if inp.task.outcome == "approve" else "rejected"

    async def scenario():
        async with wf.worker(*task_activities(rec), apply_review) as tq:
            with wf.env.with_time_skipping_disabled():  # the reviewer answers inside the SLA
                handle = await wf.client.start_workflow(
                    OrderWorkflow.run, OrderStart(order_id, 7, "east", decision), id=f"order-{order_id}",
                    task_queue=tq)
            [task] = await rec.wait_for("open_task")
            assert await handle.query(OrderWorkflow.status) == "pending_review"
            await complete(wf, task, "approve", "cm-1")
            return await handle.result(), task

    result, task = wf.run(scenario())
    assert result == OrderResult(order_id, "approved")
    assert (task.kind, task.subject_id, task.dealer_id, task.assignee_role, task.sla_seconds, task.escalate_to) == (
        "order_credit_review", order_id, 7, "credit_manager", 4 * 3600, "sales_director")
    assert task.payload["rule"] == "rating_c" and task.payload["amount"] == "1200.00"
    [applied] = rec.args("apply_review")
    assert (applied.order_id, applied.task.outcome, applied.task.actor) == (order_id, "approve", "cm-1")
    assert rec.names() == ["open_task", "record_task_completion", "apply_review"]


def test_an_order_short_of_stock_goes_to_the_allocation_rules_reviewer(wf):
    rec = Recorder()
    order_id = str(uuid.uuid4())
    decision = CreditDecision(order_id, "pending_review", "approve", "credit_approval", 3, "approve-within-headroom",
                              "fits", "900.00", "D001", review_role="hq", review_sla_seconds=24 * 3600,
                              review_kind="order_stock_review", allocation="review",
                              allocation_reason="a large shortage is allocated by HQ")

    @activity.defn(name="apply_review")
    async def apply_review(inp: ReviewOutcomeInput) -> str:
        rec.add("apply_review", inp)
        return "approved" if inp.task.outcome == "approve" else "rejected"

    async def scenario():
        async with wf.worker(*task_activities(rec), apply_review) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(
                    OrderWorkflow.run, OrderStart(order_id, 7, "east", decision), id=f"order-{order_id}",
                    task_queue=tq)
            [task] = await rec.wait_for("open_task")
            await complete(wf, task, "reject", "hq-1")
            return await handle.result(), task

    result, task = wf.run(scenario())
    assert result == OrderResult(order_id, "rejected")
    assert (task.kind, task.assignee_role, task.payload["reason"], task.payload["allocation"]) == (
        "order_stock_review", "hq", "a large shortage is allocated by HQ", "review")


def test_an_approved_order_needs_no_one(wf):
    rec = Recorder()
    order_id = str(uuid.uuid4())
    decision = CreditDecision(order_id, "approved", "approve", "credit_approval", 3, "approve-within-headroom",
                              "fits", "900.00", "D001", review_role="credit_manager", review_sla_seconds=3600)

    async def scenario():
        async with wf.worker(*task_activities(rec)) as tq:
            return await wf.client.execute_workflow(OrderWorkflow.run, OrderStart(order_id, 7, "east", decision),
                                                    id=f"order-{order_id}", task_queue=tq)

    assert wf.run(scenario()) == OrderResult(order_id, "approved")
    assert rec.names() == []


# --- tiering -----------------------------------------------------------------------------------

def test_retiering_applies_at_once_and_holds_downgrades_for_approval(wf):
    rec = Recorder()
    month = f"2026-{uuid.uuid4().int % 12 + 1:02d}"
    manager_task = spec(str(uuid.uuid4()), kind="dealer_activation", subject_type="dealer", subject_id="D009",
                        assignee_role="account_manager", outcomes=["done"], escalate_to=None)

    @activity.defn(name="score_dealers")
    async def score_dealers(inp: TieringStepInput) -> ScoreResult:
        rec.add("score_dealers", inp)
        return ScoreResult(inp.month, dealers=40, changes=5)

    @activity.defn(name="apply_tier_changes")
    async def apply_tier_changes(inp: TieringStepInput) -> ApplyResult:
        rec.add("apply_tier_changes", inp)
        return ApplyResult(applied=3, awaiting=2, approval=spec(
            inp.task_id, kind="tier_downgrades", subject_type="tiering_run", subject_id=inp.month,
            assignee_role="sales_director", outcomes=["approve", "reject"]))

    @activity.defn(name="flag_silent_dealers")
    async def flag_silent_dealers(inp: TieringStepInput) -> SilentResult:
        rec.add("flag_silent_dealers", inp)
        return SilentResult(flagged=1, activated=0, tasks=[manager_task])

    @activity.defn(name="decide_downgrades")
    async def decide_downgrades(inp: DowngradeOutcomeInput) -> int:
        rec.add("decide_downgrades", inp)
        return 2

    @activity.defn(name="close_tiering_run")
    async def close_tiering_run(inp: TieringStepInput) -> dict:
        rec.add("close_tiering_run", inp)
        return {"applied": 5}

    @activity.defn(name="send_notifications")
    async def send_notifications() -> int:
        rec.add("send_notifications")
        return 0

    async def scenario():
        async with wf.worker(*task_activities(rec), score_dealers, apply_tier_changes, flag_silent_dealers,
                             decide_downgrades, close_tiering_run, send_notifications) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(RetieringWorkflow.run, RetieringInput(month, "hq-1"),
                                                        id=f"tiering-{month}-{uuid.uuid4().hex[:6]}", task_queue=tq)
            opened = await rec.wait_for("open_task", 2)
            approval = next(t for t in opened if t.kind == "tier_downgrades")
            assert (await handle.query(RetieringWorkflow.progress))["stage"] == "awaiting_approval"
            await complete(wf, approval, "approve", "director-1")
            return await handle.result(), approval

    result, approval = wf.run(scenario())
    assert result == RetieringResult(month, {"applied": 5})
    assert approval.task_id == rec.args("apply_tier_changes")[0].task_id
    assert {t.task_id for t in rec.args("open_task")} == {approval.task_id, manager_task.task_id}
    [decided] = rec.args("decide_downgrades")
    assert (decided.month, decided.task.outcome, decided.task.actor) == (month, "approve", "director-1")
    # The account manager's activation task is not waited for; the run closes without it.
    assert [r.task_id for r in rec.args("record_task_completion")] == [approval.task_id]
    names = rec.names()
    assert names.index("decide_downgrades") < names.index("close_tiering_run") < names.index("send_notifications")
    assert all(s.month == month and s.actor == "hq-1" for s in rec.args("score_dealers"))


# --- diversion cases ---------------------------------------------------------------------------

@pytest.mark.parametrize("outcome,status,points", [("confirm", "confirmed", 20), ("dismiss", "dismissed", 0)])
def test_a_diversion_case_is_investigated_and_confirmed_or_dismissed(wf, outcome, status, points):
    rec = Recorder()
    case_id = uuid.uuid4().int % 10**9

    @activity.defn(name="open_investigation")
    async def open_investigation(inp: InvestigationInput) -> Investigation:
        rec.add("open_investigation", inp)
        return Investigation(inp.case_id, "open", "high", spec(
            inp.task_id, kind="diversion_case", subject_type="diversion_case", subject_id=str(inp.case_id),
            assignee_role="investigator", outcomes=["confirm", "dismiss"], sla_seconds=5 * 86400), "regional excess")

    @activity.defn(name="resolve_case")
    async def resolve_case(inp: CaseOutcomeInput) -> CaseResult:
        rec.add("resolve_case", inp)
        confirmed = inp.task.outcome == "confirm"
        return CaseResult(inp.case_id, "confirmed" if confirmed else "dismissed", "high", 20 if confirmed else 0)

    async def scenario():
        async with wf.worker(*task_activities(rec), open_investigation, resolve_case) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(CaseWorkflow.run, CaseInput(case_id), id=f"case-{case_id}",
                                                        task_queue=tq)
            [task] = await rec.wait_for("open_task")
            assert await handle.query(CaseWorkflow.progress) == {"stage": "investigating", "severity": "high"}
            await complete(wf, task, outcome, "inv-1")
            return await handle.result(), await handle.query(CaseWorkflow.progress)

    result, progress = wf.run(scenario())
    assert result == CaseResult(case_id, status, "high", points)
    assert progress == {"stage": status, "severity": "high"}
    assert rec.args("open_task")[0].task_id == rec.args("open_investigation")[0].task_id
    assert [(r.task.outcome, r.task.actor) for r in rec.args("resolve_case")] == [(outcome, "inv-1")]
