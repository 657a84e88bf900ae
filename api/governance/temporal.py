"""A rule proposal's workflow (the second person's task), completing that task when the answer is
given on the proposal itself, ending it when the proposal is withdrawn, and the proposal sweep that
starts the workflows whose start was lost."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from dealerflow.contracts import (STAGE, CompleteTaskInput, ProposalSweepInput, ProposalSweepResult,
                                  RuleProposalInput, TaskSpec, task_workflow_id)
from dealerflow.core.errors import Conflict, Forbidden, Unavailable
from dealerflow.governance import proposals
from workflows import HumanTaskWorkflow, RuleProposalSweepWorkflow, RuleProposalWorkflow

from api.temporal_calls import ensure_every, run_update, unavailable

log = logging.getLogger("dealerflow.rules")
PROPOSAL_SCHEDULE = "rule-proposal-sweep"
PROPOSAL_SWEEP_EVERY = timedelta(minutes=1)


async def start_proposal(*, client: Client, task_queue: str, workflow_id: str, proposal_id: str,
                         review: TaskSpec, sessions: sessionmaker[Session] | None = None) -> bool:
    """Start the proposal's workflow (its id is the proposal's: a second start starts nothing) and let
    the outbox go of it. A start that fails is left to the proposal sweep: the proposal is saved and
    its task opens a minute after Temporal is back."""
    try:
        await client.start_workflow(RuleProposalWorkflow.run, RuleProposalInput(proposal_id, review), id=workflow_id,
                                    task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                    search_attributes=TypedSearchAttributes([Pair(STAGE, "awaiting_approval")]))
    except RPCError as e:
        log.warning("rule proposal %s: workflow not started (%s); the proposal sweep will start it", proposal_id, e)
        return False
    if sessions is not None:
        def release() -> None:
            with sessions.begin() as session:
                proposals.started(session, [uuid.UUID(proposal_id)])
        try:
            await run_in_threadpool(release)
        except Exception as e:  # the sweep finds it; starting it again starts nothing
            log.warning("rule proposal %s left in the outbox (%s)", proposal_id, e)
    return True


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


async def end_task(*, client: Client, task_id: str) -> bool:
    """End a withdrawn proposal's task workflow (its row is already cancelled with the reason). One
    never started, or already ended, has nothing to end; an unreachable Temporal leaves a task whose
    answer the withdrawn proposal ignores."""
    try:
        await client.get_workflow_handle(task_workflow_id(task_id)).cancel()
        return True
    except RPCError as e:
        log.info("task %s of a withdrawn proposal not cancelled: %s", task_id, e)
        return False


async def run_proposal_sweep(*, client: Client, task_queue: str, now=None) -> ProposalSweepResult:
    """The schedule's sweep, now: proposals whose workflow start was lost are started."""
    try:
        return await client.execute_workflow(
            RuleProposalSweepWorkflow.run, ProposalSweepInput(now), id=f"rule-proposal-sweep-{uuid.uuid4()}",
            task_queue=task_queue, search_attributes=TypedSearchAttributes([Pair(STAGE, "sweeping")]))
    except RPCError as e:
        raise unavailable(e) from None


async def sync_proposal_schedule(*, client: Client, task_queue: str) -> None:
    """Every minute: open the approval tasks of proposals saved while Temporal was unreachable."""
    await ensure_every(client, PROPOSAL_SCHEDULE, RuleProposalSweepWorkflow.run, ProposalSweepInput(),
                       workflow_id=PROPOSAL_SCHEDULE, every=PROPOSAL_SWEEP_EVERY, task_queue=task_queue)
