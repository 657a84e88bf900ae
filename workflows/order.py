"""One workflow per order, started once the order and its decision are committed (the API answers
the dealer from the database and starts this after; the order sweep starts any it could not): a
reviewer when the credit or allocation rules asked for one, then the order's final state. Nobody
waits on it."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, OrderResult, OrderStart, OrderSweepInput, OrderSweepResult,
                                      ReviewOutcomeInput, TaskSpec, order_search_attributes)
    from dealerflow.contracts.orders import workflow_id_for

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
SWEEP = dict(start_to_close_timeout=timedelta(minutes=5),
             retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))
TITLES = {"order_credit_review": "Credit review", "order_stock_review": "Stock review"}


# Every order has one, so it runs outside the sandbox: a sandboxed run re-imports its modules for
# each workflow, which cost more CPU than the rest of an order's placement. What the sandbox would
# catch is kept out by the import contracts (pyproject.toml): this module imports only the contracts
# and temporalio, and it has no clock, I/O or randomness but Temporal's.
@workflow.defn(sandboxed=False)
class OrderWorkflow:
    def __init__(self) -> None:
        self._status = "submitted"

    @workflow.run
    async def run(self, start: OrderStart) -> OrderResult:
        decision = start.decision
        self._status = decision.status
        if decision.status == "pending_review":
            title = TITLES.get(decision.review_kind, "Review")
            result = await ask(TaskSpec(
                task_id=str(workflow.uuid4()), kind=decision.review_kind,
                title=f"{title}: {decision.dealer_code}, order {start.order_id[:8]}, {decision.amount}",
                subject_type="order", subject_id=start.order_id, dealer_id=start.dealer_id,
                assignee_role=decision.review_role, outcomes=["approve", "reject"],
                sla_seconds=decision.review_sla_seconds, escalate_to=decision.escalate_to,
                payload={"reason": decision.allocation_reason if decision.review_kind == "order_stock_review"
                         else decision.reason,
                         "rule": decision.rule, "amount": decision.amount, "dealer": decision.dealer_code,
                         "ruleset": decision.ruleset, "version": decision.version,
                         "allocation": decision.allocation}))
            self._status = await workflow.execute_activity(
                "apply_review", ReviewOutcomeInput(start.order_id, result), result_type=str, **ACTIVITY)
            workflow.upsert_search_attributes([STAGE.value_set(self._status)])
        return OrderResult(start.order_id, self._status)

    @workflow.query
    def status(self) -> str:
        return self._status


@workflow.defn
class OrderSweepWorkflow:
    """On a Temporal Schedule: orders committed whose workflow start was lost are started (once: the
    workflow id is the order's)."""

    @workflow.run
    async def run(self, inp: OrderSweepInput) -> OrderSweepResult:
        result = await workflow.execute_activity(
            "unstarted_orders", OrderSweepInput(inp.now or workflow.now()), result_type=OrderSweepResult, **SWEEP)
        for start in result.starts:
            try:
                await workflow.start_child_workflow(
                    OrderWorkflow.run, start, id=workflow_id_for(start.order_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=order_search_attributes(start))
            except WorkflowAlreadyStartedError:  # the API started it after all, or it has run
                pass
        if result.starts:
            await workflow.execute_activity("orders_started", [s.order_id for s in result.starts],
                                            result_type=int, **ACTIVITY)
        return result
