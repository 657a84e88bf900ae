"""Policies: dealers read and acknowledge what was delivered to them and ask questions; HQ previews,
publishes, amends (publish a newer version), withdraws, answers, and watches the live status.
The console (api/policies/console.py) calls the same services and read models."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from dealerflow.core.errors import NotFound
from dealerflow.policies import questions as policy_questions, rollout as policies
from dealerflow.models import User

from api.errors import responses
from api.policies import temporal
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep, require_role
from api.schemas import BIGINT
from api.policies.schemas import (Acknowledgment, AnswerCreate, PolicyListed, PolicyPreview, PolicyPublished,
                                  PolicyRead, PolicyStatus, PolicyWithdrawn, QuestionCreate, QuestionRead, WithdrawBody)
from api.policies.views import (delivered, dealer_policy, policy_list, policy_status, question_read, questions_for,
                                staff_policy)

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])
StaffUser = Annotated[User, require_role("hq", "admin")]
HqUser = Annotated[User, require_role("hq")]


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- routes ------------------------------------------------------------------------------------

@router.get("", response_model=list[PolicyListed])
def list_policies(session: SessionDep, user: CurrentUser):
    """Dealer: the policies delivered to me, unread first. HQ: every policy file and its rollout."""
    return policy_list(session, user)


@router.get("/{policy_id}", response_model=PolicyRead)
def get_policy(policy_id: str, session: SessionDep, user: CurrentUser):
    if user.role == "dealer":
        body = dealer_policy(session, user, policy_id)
        session.commit()  # marked read
        return body
    if user.role not in ("hq", "admin"):
        raise NotFound("policy not found")
    return staff_policy(session, policy_id)


@router.post("/{policy_id}/acknowledge", response_model=Acknowledgment)
def acknowledge(policy_id: str, session: SessionDep, user: DealerUser):
    """Idempotent: a second call returns the first acknowledgment of this version."""
    target = policies.acknowledge(session, policy_id=policy_id, dealer_id=user.dealer_id, now=_now())
    session.commit()
    return {"policy_id": policy_id, "version": target.acknowledged_version,
            "acknowledged_at": target.acknowledged_at, "late": bool(target.acknowledged_late)}


@router.post("/{policy_id}/questions", response_model=QuestionRead, status_code=201)
def ask(policy_id: str, body: QuestionCreate, session: SessionDep, user: DealerUser):
    delivered(session, user, policy_id)
    q = policy_questions.ask(session, policy_id=policy_id, dealer_id=user.dealer_id, dealer_code=user.dealer.code,
                             asked_by=user.username, question=body.question)
    session.commit()
    return question_read(q)


@router.get("/{policy_id}/questions", response_model=list[QuestionRead])
def questions(policy_id: str, session: SessionDep, user: CurrentUser):
    """Dealer: my questions and the policy's FAQ. HQ: every question."""
    return questions_for(session, user, policy_id)


@router.post("/{policy_id}/questions/{question_id}/answer", response_model=QuestionRead)
def answer(policy_id: str, question_id: Annotated[int, Path(ge=1, le=BIGINT)], body: AnswerCreate, session: SessionDep,
           user: HqUser):
    q = policy_questions.answer(session, policy_id=policy_id, question_id=question_id, answered_by=user.username,
                                text=body.answer, publish_to_faq=body.publish_to_faq, now=_now())
    session.commit()
    return question_read(q)


@router.get("/{policy_id}/preview", response_model=PolicyPreview)
def preview(policy_id: str, session: SessionDep, _: StaffUser,
            version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None):
    """Who a publish would reach and how many, without publishing."""
    return policies.preview(session, policy_id, version)


@router.post("/{policy_id}/publish", response_model=PolicyPublished, status_code=202)
async def publish(policy_id: str, request: Request, client: TemporalDep, user: HqUser):
    result = await temporal.publish_policy(
        client=client, task_queue=request.app.state.settings.task_queue, sessions=request.app.state.sessions,
        policy_id=policy_id, actor=user.username)
    return result.__dict__


@router.post("/{policy_id}/withdraw", response_model=PolicyWithdrawn, responses=responses(409))
async def withdraw(policy_id: str, body: WithdrawBody, request: Request, client: TemporalDep, user: HqUser):
    status = await temporal.withdraw_policy(client=client, sessions=request.app.state.sessions, policy_id=policy_id,
                                            actor=user.username, reason=body.reason)
    return {"policy_id": policy_id, "status": status}


@router.get("/{policy_id}/status", response_model=PolicyStatus)
def status(policy_id: str, session: SessionDep, _: StaffUser):
    """Live figures: acknowledgment (on time, late, not yet, overdue), chasing, tasks, conversion,
    the same by region, and the dealers still silent."""
    return policy_status(session, policy_id)
