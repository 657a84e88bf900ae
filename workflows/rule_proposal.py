"""One workflow per rule proposal: a second person (never the proposer) approves or rejects it in a
human task showing the diff, the tests and the impact report; the answer is then applied once
(approval activates exactly the proposed content at its effective date, unless another version went
live meanwhile: then the proposal is stale). The proposal sweep starts the workflows of proposals
saved while Temporal was unreachable."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, DecideProposalInput, ProposalSweepInput, ProposalSweepResult,
                                      RuleProposalInput)
    from dealerflow.contracts.governance import workflow_id_for

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
SWEEP = dict(start_to_close_timeout=timedelta(minutes=5),
             retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))


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


@workflow.defn
class RuleProposalSweepWorkflow:
    """On a Temporal Schedule: proposals saved whose workflow start was lost (Temporal unreachable, the
    process gone after the commit) are started, so their approval task opens (once: the workflow id
    is the proposal's)."""

    @workflow.run
    async def run(self, inp: ProposalSweepInput) -> ProposalSweepResult:
        result = await workflow.execute_activity(
            "unstarted_proposals", ProposalSweepInput(inp.now or workflow.now()), result_type=ProposalSweepResult,
            **SWEEP)
        for start in result.starts:
            try:
                await workflow.start_child_workflow(
                    RuleProposalWorkflow.run, start, id=workflow_id_for(start.proposal_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=TypedSearchAttributes([Pair(STAGE, "awaiting_approval")]))
            except WorkflowAlreadyStartedError:  # the API started it after all, or it has run
                pass
        if result.starts:
            await workflow.execute_activity("proposals_started", [s.proposal_id for s in result.starts],
                                            result_type=int, **ACTIVITY)
        return result
