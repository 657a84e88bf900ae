"""A credit limit raise above the credit rule file's threshold: a second person (credit manager, then
finance on escalation; never the requester) approves or rejects it through the human-task workflow,
and the answer is applied once."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import STAGE, LimitChangeInput, LimitChangeOutcomeInput

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))


@workflow.defn
class CreditLimitChangeWorkflow:
    @workflow.run
    async def run(self, inp: LimitChangeInput) -> str:
        workflow.upsert_search_attributes([STAGE.value_set("in_review")])
        try:
            result = await ask(inp.review)
        except ChildWorkflowError:
            workflow.upsert_search_attributes([STAGE.value_set("cancelled")])
            return "cancelled"
        status = await workflow.execute_activity(
            "apply_limit_change", LimitChangeOutcomeInput(inp.change_id, result), result_type=str, **ACTIVITY)
        workflow.upsert_search_attributes([STAGE.value_set(status)])
        return status
