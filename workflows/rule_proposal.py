"""One workflow per rule proposal: a second person (never the proposer) approves or rejects it in a
human task showing the diff, the tests and the impact report; the answer is then applied once
(approval activates exactly the proposed content at its effective date, unless another version went
live meanwhile: then the proposal is stale)."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import STAGE, DecideProposalInput, RuleProposalInput

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))


@workflow.defn
class RuleProposalWorkflow:
    @workflow.run
    async def run(self, inp: RuleProposalInput) -> str:
        workflow.upsert_search_attributes([STAGE.value_set("awaiting_approval")])
        try:
            result = await ask(inp.review)
        except ChildWorkflowError:  # the task was cancelled (the proposal withdrawn)
            workflow.upsert_search_attributes([STAGE.value_set("cancelled")])
            return "cancelled"
        status = await workflow.execute_activity(
            "decide_rule_proposal", DecideProposalInput(inp.proposal_id, result), result_type=str, **ACTIVITY)
        workflow.upsert_search_attributes([STAGE.value_set(status)])
        return status
