"""One workflow per evidence submission: a reviewer accepts it or returns it with a comment (the
human-task workflow), and the outcome is applied: points on acceptance, exactly once."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import STAGE, EvidenceOutcomeInput, EvidenceReviewInput

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))


@workflow.defn
class EvidenceReviewWorkflow:
    @workflow.run
    async def run(self, inp: EvidenceReviewInput) -> str:
        workflow.upsert_search_attributes([STAGE.value_set("in_review")])
        try:
            result = await ask(inp.review)
        except ChildWorkflowError:  # the review was cancelled with its policy
            workflow.upsert_search_attributes([STAGE.value_set("cancelled")])
            return "cancelled"
        status = await workflow.execute_activity(
            "apply_evidence_review", EvidenceOutcomeInput(inp.assignment_id, inp.attempt, result), result_type=str,
            **ACTIVITY)
        workflow.upsert_search_attributes([STAGE.value_set(status)])
        return status
