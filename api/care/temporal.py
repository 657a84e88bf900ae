"""Points redemptions in Temporal: the redemption's workflow (its fulfilment task) started with it."""
from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from dealerflow.contracts import DEALER_ID, STAGE, RedemptionInput, TaskSpec, redemption_workflow_id
from workflows import RedemptionWorkflow

from api.temporal_calls import unavailable


async def start_redemption(*, client: Client, task_queue: str, redemption_id: str, task: TaskSpec,
                           dealer_code: str) -> None:
    try:
        await client.start_workflow(
            RedemptionWorkflow.run, RedemptionInput(redemption_id, task), id=redemption_workflow_id(redemption_id),
            task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes([Pair(DEALER_ID, dealer_code), Pair(STAGE, "requested")]))
    except RPCError as e:
        raise unavailable(e) from None
