"""Master data's workflow start: a credit limit raise waiting for a second person."""
from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from dealerflow.contracts import DEALER_ID, STAGE, limit_change_workflow_id
from dealerflow.masterdata.credit_limits import Pending
from workflows import CreditLimitChangeWorkflow

from api.temporal_calls import unavailable


async def start_limit_change(*, client: Client, task_queue: str, pending: Pending) -> None:
    """Started before the change is committed: if Temporal is down, nothing is recorded (503) and the
    editor tries again."""
    try:
        await client.start_workflow(
            CreditLimitChangeWorkflow.run, pending.start, id=limit_change_workflow_id(pending.change_id),
            task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes([Pair(DEALER_ID, pending.start.dealer_code),
                                                     Pair(STAGE, "in_review")]))
    except RPCError as e:
        raise unavailable(e) from None
