"""Policies: dealers read and acknowledge what was delivered to them and ask questions; HQ previews,
publishes, amends (publish a newer version), withdraws, answers, and watches the live status.
The work is in plain functions that the console (api/console_policies.py) calls too."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import AfterValidator, Field
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import Forbidden, NotFound
from dealerflow.policies import rollout as policies
from dealerflow.models import Policy, PolicyQuestion, PolicyTarget, RuleVersion, User
from dealerflow.shared.notifications import notify
from dealerflow.policies.figures import policy_figures

from api.policies import temporal
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep, require_role
from api.schemas import Strict
from api.policies.views import policy_content

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])
StaffUser = Annotated[User, require_role("hq", "admin")]
HqUser = Annotated[User, require_role("hq")]


class QuestionCreate(Strict):
    question: Annotated[str, Field(min_length=1, max_length=2000)]


class AnswerCreate(Strict):
    answer: Annotated[str, Field(min_length=1, max_length=5000)]
    publish_to_faq: bool = False


def _plain_text(value: str) -> str:
    """Text a person wrote: no NUL or other control characters (line breaks and tabs are fine), not blank."""
    if any(c < " " and c not in "\n\r\t" or c == "\x7f" for c in value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class WithdrawBody(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_plain_text)]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _delivered(session, user, policy_id: str) -> PolicyTarget:
    target = policies.delivered_target(session, policy_id, user.dealer_id)
    if target is None:
        raise NotFound("policy not found")
    return target


def _published(session, policy_id: str) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise NotFound("policy not published")
    return policy


def policy_list(session, user) -> list[dict]:
    """Dealer: the policies delivered to it, unread first. HQ/admin: every policy file and its rollout."""
    if user.role == "dealer":
        rows = session.execute(
            select(PolicyTarget, Policy).join(Policy, Policy.id == PolicyTarget.policy_id)
            .where(PolicyTarget.dealer_id == user.dealer_id, PolicyTarget.delivered_at.is_not(None),
                   PolicyTarget.removed_at.is_(None))
            .order_by(PolicyTarget.read_at.is_not(None), PolicyTarget.delivered_at.desc())).all()
        return [{"id": p.id, "title": p.title, "category": p.category, "version": t.delivered_version,
                 "status": p.status, "delivered_at": t.delivered_at, "read": t.read_at is not None,
                 "acknowledged": t.acknowledged_version == t.delivered_version,
                 "acknowledged_at": t.acknowledged_at, "acknowledge_by": t.ack_due_at} for t, p in rows]
    if user.role not in ("hq", "admin"):
        raise Forbidden("requires role: hq or admin or dealer")
    files = session.execute(select(RuleVersion.ruleset, RuleVersion.version, RuleVersion.deployed_at)
                            .where(RuleVersion.kind == "policy")
                            .order_by(RuleVersion.ruleset, RuleVersion.version.desc())
                            .distinct(RuleVersion.ruleset)).all()
    published = {p.id: p for p in session.scalars(select(Policy))}
    out = []
    for f in files:
        p = published.get(f.ruleset)
        out.append({"id": f.ruleset, "deployed_version": f.version, "deployed_at": f.deployed_at,
                    "published_version": p.version if p else None, "status": p.status if p else "draft",
                    "title": p.title if p else policies.spec_of(session, f.ruleset, f.version).title})
    return out


def dealer_policy(session, user, policy_id: str) -> dict:
    """The delivered version as the dealer reads it (marked read), with the dealer's own state."""
    target = _delivered(session, user, policy_id)
    policies.mark_read(session, policy_id=policy_id, dealer_id=user.dealer_id, now=_now())
    session.commit()
    body = policy_content(session, policy_id, target.delivered_version)
    body["my"] = {"delivered_at": target.delivered_at, "acknowledged": target.acknowledged_version == target.delivered_version,
                  "acknowledged_at": target.acknowledged_at, "acknowledge_by": target.ack_due_at,
                  "pilot": target.pilot}
    return body


def staff_policy(session, policy_id: str) -> dict:
    """The published version, or the deployed one while it is still a draft."""
    policy = session.get(Policy, policy_id)
    try:
        body = policy_content(session, policy_id, policy.version if policy else None)
    except policies.PolicyNotFound:
        raise NotFound("policy not found") from None
    body["status"] = policy.status if policy else "draft"
    return body


def acknowledge_policy(session, user, policy_id: str) -> dict:
    try:
        target = policies.acknowledge(session, policy_id=policy_id, dealer_id=user.dealer_id, now=_now())
    except policies.PolicyNotFound:
        raise NotFound("policy not found") from None
    session.commit()
    return {"policy_id": policy_id, "version": target.acknowledged_version,
            "acknowledged_at": target.acknowledged_at, "late": bool(target.acknowledged_late)}


def ask_question(session, user, policy_id: str, body: QuestionCreate) -> dict:
    _delivered(session, user, policy_id)
    q = PolicyQuestion(policy_id=policy_id, dealer_id=user.dealer_id, asked_by=user.username, question=body.question)
    session.add(q)
    session.flush()
    notify(session, role="hq", kind="question", title=f"Question on {policy_id} from {user.dealer.code}",
           body=body.question[:300], link=f"/console/policies/{policy_id}", dedup_key=f"question:{q.id}")
    session.commit()
    return _question(q)


def questions_for(session, user, policy_id: str) -> list[dict]:
    """Dealer: my questions and the policy's FAQ. HQ: every question."""
    q = select(PolicyQuestion).where(PolicyQuestion.policy_id == policy_id).order_by(PolicyQuestion.id)
    if user.role == "dealer":
        _delivered(session, user, policy_id)
        q = q.where(or_(PolicyQuestion.dealer_id == user.dealer_id, PolicyQuestion.in_faq))
    elif user.role not in ("hq", "admin"):
        raise NotFound("policy not found")
    return [_question(x) for x in session.scalars(q)]


def answer_question(session, user, policy_id: str, question_id: int, body: AnswerCreate) -> dict:
    q = session.get(PolicyQuestion, question_id)
    if q is None or q.policy_id != policy_id:
        raise NotFound("question not found")
    q.answer, q.answered_by, q.answered_at, q.in_faq = body.answer, user.username, _now(), body.publish_to_faq
    notify(session, dealer_id=q.dealer_id, kind="answer", title=f"HQ answered your question on {policy_id}",
           body=body.answer[:300], link=f"/console/policies/{policy_id}", dedup_key=f"answer:{q.id}:{q.answered_at.isoformat()}")
    session.commit()
    return _question(q)


def _question(q: PolicyQuestion) -> dict:
    return {"id": q.id, "question": q.question, "asked_at": q.asked_at, "answer": q.answer,
            "answered_at": q.answered_at, "in_faq": q.in_faq}


async def withdraw_policy(*, sessions, client, policy_id: str, user, reason: str) -> str:
    def exists():
        with sessions() as session:
            _published(session, policy_id)

    await run_in_threadpool(exists)
    return await temporal.withdraw_policy(client=client, policy_id=policy_id, actor=user.username, reason=reason)


def policy_status(session, policy_id: str) -> dict:
    policy = _published(session, policy_id)
    return policy_figures(session, policy, policies.spec_of(session, policy_id, policy.version))


# --- routes ------------------------------------------------------------------------------------

@router.get("")
def list_policies(session: SessionDep, user: CurrentUser):
    """Dealer: the policies delivered to me, unread first. HQ: every policy file and its rollout."""
    return policy_list(session, user)


@router.get("/{policy_id}")
def get_policy(policy_id: str, session: SessionDep, user: CurrentUser):
    if user.role == "dealer":
        return dealer_policy(session, user, policy_id)
    if user.role not in ("hq", "admin"):
        raise NotFound("policy not found")
    return staff_policy(session, policy_id)


@router.post("/{policy_id}/acknowledge")
def acknowledge(policy_id: str, session: SessionDep, user: DealerUser):
    """Idempotent: a second call returns the first acknowledgment of this version."""
    return acknowledge_policy(session, user, policy_id)


@router.post("/{policy_id}/questions", status_code=201)
def ask(policy_id: str, body: QuestionCreate, session: SessionDep, user: DealerUser):
    return ask_question(session, user, policy_id, body)


@router.get("/{policy_id}/questions")
def questions(policy_id: str, session: SessionDep, user: CurrentUser):
    """Dealer: my questions and the policy's FAQ. HQ: every question."""
    return questions_for(session, user, policy_id)


@router.post("/{policy_id}/questions/{question_id}/answer")
def answer(policy_id: str, question_id: int, body: AnswerCreate, session: SessionDep, user: HqUser):
    return answer_question(session, user, policy_id, question_id, body)


@router.get("/{policy_id}/preview")
def preview(policy_id: str, session: SessionDep, _: StaffUser, version: int | None = None):
    """Who a publish would reach and how many, without publishing."""
    try:
        return policies.preview(session, policy_id, version)
    except policies.PolicyNotFound as e:
        raise NotFound(str(e)) from None


@router.post("/{policy_id}/publish", status_code=202)
async def publish(policy_id: str, request: Request, client: TemporalDep, user: HqUser):
    result = await temporal.publish_policy(
        client=client, task_queue=request.app.state.settings.task_queue, sessions=request.app.state.sessions,
        policy_id=policy_id, actor=user.username)
    return result.__dict__


@router.post("/{policy_id}/withdraw")
async def withdraw(policy_id: str, body: WithdrawBody, request: Request, client: TemporalDep, user: HqUser):
    status = await withdraw_policy(sessions=request.app.state.sessions, client=client, policy_id=policy_id,
                                   user=user, reason=body.reason)
    return {"policy_id": policy_id, "status": status}


@router.get("/{policy_id}/status")
def status(policy_id: str, session: SessionDep, _: StaffUser):
    """Live figures: acknowledgment (on time, late, not yet, overdue), chasing, tasks, conversion,
    the same by region, and the dealers still silent."""
    return policy_status(session, policy_id)
