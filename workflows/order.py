"""One workflow per order: credit decision through the rules, a reviewer when the rules say so,
then the order's final state. The API waits on the `decision` update to answer in one request."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, CreditDecision, OrderResult, PlaceOrderInput,
                                      ReviewOutcomeInput, TaskSpec)

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30),
                                         non_retryable_error_types=["OrderInputError"]))


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._decision: CreditDecision | None = None
        self._invalid: ApplicationError | None = None
        self._status = "submitted"

    @workflow.run
    async def run(self, inp: PlaceOrderInput) -> OrderResult:
        try:
            # Local: the decision runs inside this workflow task, so the API's update returns
            # without an extra round of activity dispatch through the server.
            decision = await workflow.execute_local_activity("decide_credit", inp, result_type=CreditDecision,
                                                             **ACTIVITY)
        except ActivityError as e:
            if not (isinstance(e.cause, ApplicationError) and e.cause.type == "OrderInputError"):
                raise
            # Bad input (e.g. a SKU removed since the API checked it): nothing was written; the
            # waiting update reports it and the workflow ends without an order.
            self._invalid, self._status = e.cause, "invalid"
            workflow.upsert_search_attributes([STAGE.value_set("invalid")])
            await workflow.wait_condition(workflow.all_handlers_finished)
            return OrderResult(inp.order_id, "invalid")
        self._decision, self._status = decision, decision.status
        workflow.upsert_search_attributes([STAGE.value_set(decision.status)])
        if decision.status == "pending_review":
            task_id = str(workflow.uuid4())
            result = await ask(TaskSpec(task_id=task_id, kind="order_credit_review",
                         title=f"Credit review: {decision.dealer_code}, order {inp.order_id[:8]}, {decision.amount}",
                         subject_type="order", subject_id=inp.order_id, dealer_id=inp.dealer_id,
                         assignee_role=decision.review_role, outcomes=["approve", "reject"],
                         sla_seconds=decision.review_sla_seconds, escalate_to=decision.escalate_to,
                         payload={"reason": decision.reason, "rule": decision.rule, "amount": decision.amount,
                                  "dealer": decision.dealer_code,
                                  "ruleset": decision.ruleset, "version": decision.version}))
            self._status = await workflow.execute_activity(
                "apply_review", ReviewOutcomeInput(inp.order_id, result), result_type=str, **ACTIVITY)
            workflow.upsert_search_attributes([STAGE.value_set(self._status)])
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OrderResult(inp.order_id, self._status)

    @workflow.update
    async def decision(self) -> CreditDecision:
        await workflow.wait_condition(lambda: self._decision is not None or self._invalid is not None)
        if self._invalid is not None:
            raise ApplicationError(self._invalid.message, *self._invalid.details, type="OrderInputError")
        return self._decision

    @workflow.query
    def status(self) -> str:
        return self._status
