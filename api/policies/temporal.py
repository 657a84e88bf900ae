"""A policy's rollout in Temporal: publish (start or amend), withdraw, and the evidence review of a policy task."""
from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import (Client, WorkflowUpdateFailedError)
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError
from dealerflow.core.errors import Conflict, NotFound
from dealerflow.contracts.policies import workflow_id_for
from dealerflow.policies import rollout as policies, tasks as policy_tasks
from dealerflow.contracts import DEALER_ID, POLICY_ID, STAGE, \
    AmendInput, EvidenceReviewInput, RolloutInput, \
    WithdrawInput
from dealerflow.models import Policy
from workflows import EvidenceReviewWorkflow, PolicyRolloutWorkflow
from api.temporal_calls import unavailable


@dataclass
class Published:
    policy_id: str
    version: int
    workflow_id: str
    action: str  # started | amended | unchanged


async def publish_policy(*, client: Client, task_queue: str, sessions: sessionmaker[Session], policy_id: str,
                         actor: str) -> Published:
    """Roll out the active version of a policy file: start its rollout, amend the running one with a
    newer version, or do nothing when this version is already out."""
    def current() -> tuple[int, Policy | None]:
        with sessions() as session:
            version = policies.policy_ruleset(session, policy_id).version
            return version, session.get(Policy, policy_id)

    try:
        version, existing = await run_in_threadpool(current)
    except policies.PolicyNotFound as e:
        raise NotFound(str(e)) from None
    wid = workflow_id_for(policy_id)
    if existing is not None and existing.version >= version:
        return Published(policy_id, existing.version, wid, "unchanged")
    try:
        await client.start_workflow(
            PolicyRolloutWorkflow.run, RolloutInput(policy_id, version, actor), id=wid, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL, id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes([Pair(POLICY_ID, policy_id), Pair(STAGE, "starting")]))
        return Published(policy_id, version, wid, "started")
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as e:
        raise unavailable(e) from None
    try:
        await client.get_workflow_handle(wid).execute_update(PolicyRolloutWorkflow.amend, AmendInput(version, actor))
        return Published(policy_id, version, wid, "amended")
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "NotNewer":
            return Published(policy_id, version, wid, "unchanged")
        if isinstance(cause, ApplicationError) and cause.type == "RolloutClosed":
            raise Conflict(cause.message) from None
        raise
    except RPCError as e:
        raise unavailable(e) from None


async def withdraw_policy(*, client: Client, policy_id: str, actor: str, reason: str) -> str:
    handle = client.get_workflow_handle(workflow_id_for(policy_id))
    try:
        return await handle.execute_update(PolicyRolloutWorkflow.withdraw, WithdrawInput(actor, reason))
    except WorkflowUpdateFailedError as e:
        if isinstance(e.cause, ApplicationError) and e.cause.type == "RolloutClosed":
            raise Conflict("the rollout has already ended") from None
        raise
    except RPCError as e:
        if "workflow execution already completed" in str(e).lower():
            raise Conflict("the rollout has already ended") from None
        raise unavailable(e) from None


async def start_evidence_review(*, client: Client, task_queue: str, review: EvidenceReviewInput,
                                dealer_code: str) -> None:
    try:
        await client.start_workflow(
            EvidenceReviewWorkflow.run, review,
            id=policy_tasks.review_workflow_id(review.assignment_id, review.attempt), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes([
                Pair(POLICY_ID, review.review.subject_id), Pair(DEALER_ID, dealer_code), Pair(STAGE, "in_review")]))
    except RPCError as e:
        raise unavailable(e) from None
