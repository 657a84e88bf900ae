"""The API's calls into Temporal: placing an order (update-with-start, so the credit decision comes
back in the same request) and completing a human task (a workflow update)."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from dealerflow import orders, tasks
from dealerflow.contracts import DEALER_ID, ORDER_ID, REGION, STAGE, CompleteTaskInput, OrderLineInput, \
    PlaceOrderInput
from dealerflow.models import HumanTask, User
from workflows import HumanTaskWorkflow, OrderWorkflow
from workflows.human_task import task_workflow_id

from .schemas import OrderCreate, OrderRead, TaskComplete
from .views import order_read


@dataclass
class Placed:
    order: OrderRead
    replayed: bool


def _unavailable(e: Exception) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow service unavailable: {e}")


async def place_order(*, client: Client, task_queue: str, sessions: sessionmaker[Session], user: User,
                      body: OrderCreate, idempotency_key: str | None) -> Placed:
    dealer = user.dealer
    order_id = orders.order_id_for(dealer.id, idempotency_key)
    lines = [OrderLineInput(l.sku, l.quantity) for l in body.lines]

    def check() -> OrderRead | None:
        with sessions() as session:
            first = order_read(session, order_id)
            if first is None:
                orders.price_lines(session, lines)  # 422 naming the line, before anything starts
            return first

    first = await run_in_threadpool(check)
    if first is not None:
        return Placed(first, replayed=True)
    wid = orders.workflow_id_for(order_id)
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        PlaceOrderInput(order_id=str(order_id), dealer_id=dealer.id, lines=lines, actor=user.username,
                        user_id=user.id, idempotency_key=idempotency_key),
        id=wid, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([
            Pair(DEALER_ID, dealer.code), Pair(REGION, dealer.region),
            Pair(ORDER_ID, str(order_id)), Pair(STAGE, "submitted")]))
    try:
        await client.execute_update_with_start_workflow(OrderWorkflow.decision, start_workflow_operation=start)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "OrderInputError":
            detail = cause.details[0] if cause.details else {"field": "lines", "message": cause.message}
            raise HTTPException(422, [detail]) from None
        raise
    except RPCError as e:
        raise _unavailable(e) from None

    def read() -> OrderRead:
        with sessions() as session:
            return order_read(session, order_id)

    return Placed(await run_in_threadpool(read), replayed=False)


async def complete_task(*, client: Client, sessions: sessionmaker[Session], user: User, task: HumanTask,
                        body: TaskComplete) -> None:
    if not tasks.may_complete(user, task):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this task is for role {task.assignee_role}"
                            + (f" or {task.escalated_to_role}" if task.escalated_to_role else ""))
    if task.status != "open":
        raise HTTPException(status.HTTP_409_CONFLICT, f"task is already {task.status}")
    if body.outcome not in task.outcomes:
        raise HTTPException(422, [{"field": "outcome", "message": f"must be one of {', '.join(task.outcomes)}"}])
    handle = client.get_workflow_handle(task_workflow_id(str(task.id)))
    try:
        await handle.execute_update(HumanTaskWorkflow.complete, CompleteTaskInput(
            task_id=str(task.id), outcome=body.outcome, actor=user.username, comment=body.comment))
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "TaskAlreadyCompleted":
            raise HTTPException(status.HTTP_409_CONFLICT, "task is already completed") from None
        if isinstance(cause, ApplicationError) and cause.type == "InvalidOutcome":
            raise HTTPException(422, [{"field": "outcome", "message": cause.message}]) from None
        raise
    except RPCError as e:
        if "workflow execution already completed" in str(e).lower():
            raise HTTPException(status.HTTP_409_CONFLICT, "task is already completed") from None
        raise _unavailable(e) from None
