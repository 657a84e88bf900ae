"""A policy's rollout in Temporal: publish (start or amend), withdraw, and the evidence review of a policy task."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributePair as Pair, TypedSearchAttributes, WorkflowIDConflictPolicy, \
    WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from dealerflow.core.errors import Conflict, NotFound
from dealerflow.contracts.policies import workflow_id_for
from dealerflow.policies import rollout as policies, tasks as policy_tasks
from dealerflow.contracts import DEALER_ID, POLICY_ID, STAGE, \
    AmendInput, EvidenceReviewInput, RolloutInput, \
    WithdrawInput
from dealerflow.models import Policy
from workflows import EvidenceReviewWorkflow, PolicyRolloutWorkflow
from api.temporal_calls import run_update, unavailable



class _NotNewer(Conflict):
    """The running rollout already has this version (or a newer one): nothing to amend."""


class _Closing(Conflict):
    """The rollout has closed (its policy reads closed) and its workflow is taking its last steps."""


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
    for attempt in (1, 2):
        try:
            await client.start_workflow(
                PolicyRolloutWorkflow.run, RolloutInput(policy_id, version, actor), id=wid, task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                search_attributes=TypedSearchAttributes([Pair(POLICY_ID, policy_id), Pair(STAGE, "starting")]))
            return Published(policy_id, version, wid, "started")
        except WorkflowAlreadyStartedError:
            pass
        except RPCError as e:
            raise unavailable(e) from None
        handle = client.get_workflow_handle(wid)
        try:
            await run_update(handle, PolicyRolloutWorkflow.amend, AmendInput(version, actor),
                             refusals={"NotNewer": _NotNewer, "RolloutClosed": _Closing})
        except _NotNewer:
            return Published(policy_id, version, wid, "unchanged")
        except _Closing:
            # Closed a moment ago, its workflow still ending: the new version starts a new rollout
            # once it has ended (seconds), rather than refusing a publish the policy page allows.
            if attempt == 2 or not await _ended(handle, timeout=30):
                raise Conflict("the previous rollout is still closing: publish again in a minute") from None
            continue
        return Published(policy_id, version, wid, "amended")


async def _ended(handle, *, timeout: float) -> bool:
    try:
        await asyncio.wait_for(handle.result(), timeout)
    except asyncio.TimeoutError:
        return False
    except (WorkflowFailureError, RPCError):  # failed or terminated; or unreachable, which the start says
        pass
    return True


async def withdraw_policy(*, client: Client, sessions: sessionmaker[Session], policy_id: str, actor: str,
                          reason: str) -> str:
    def published() -> bool:
        with sessions() as session:
            return session.get(Policy, policy_id) is not None

    if not await run_in_threadpool(published):
        raise NotFound("policy not published")
    ended = Conflict("the rollout has already ended")
    return await run_update(client.get_workflow_handle(workflow_id_for(policy_id)), PolicyRolloutWorkflow.withdraw,
                            WithdrawInput(actor, reason), refusals={"RolloutClosed": lambda _: ended,
                                                                    "CloseFailed": Conflict}, ended=ended)


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
