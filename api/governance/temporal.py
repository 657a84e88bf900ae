"""A rule proposal's workflow (the second person's task), and completing that task when the answer
is given on the proposal itself."""
from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from dealerflow.contracts import STAGE, CompleteTaskInput, RuleProposalInput, TaskSpec, task_workflow_id
from dealerflow.core.errors import Conflict, Forbidden, Unavailable
from workflows import HumanTaskWorkflow, RuleProposalWorkflow

from api.temporal_calls import run_update, unavailable


async def start_proposal(*, client: Client, task_queue: str, workflow_id: str, proposal_id: str,
                         review: TaskSpec) -> None:
    try:
        await client.start_workflow(RuleProposalWorkflow.run, RuleProposalInput(proposal_id, review), id=workflow_id,
                                    task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                    search_attributes=TypedSearchAttributes([Pair(STAGE, "awaiting_approval")]))
    except RPCError as e:
        raise unavailable(e) from None


async def answer_task(*, client: Client, task_id: str, outcome: str, actor: str, comment: str) -> None:
    """Complete the proposal's task with the answer given (its workflow then applies it, once)."""
    handle = client.get_workflow_handle(task_workflow_id(task_id))
    try:
        await run_update(handle, HumanTaskWorkflow.complete,
                         CompleteTaskInput(task_id=task_id, outcome=outcome, actor=actor, comment=comment),
                         refusals={"TaskAlreadyCompleted": Conflict, "SameApprover": Forbidden,
                                   "TaskNotFound": Conflict},
                         ended=Conflict("this proposal's task is already answered"))
    except Unavailable as e:
        if "not found" in str(e).lower():
            raise Conflict("the approval task is still being opened: try again in a moment") from None
        raise
