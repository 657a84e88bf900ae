"""Dealers' questions about a policy and HQ's answers; an answer published to the FAQ is read by
every dealer the policy reaches. Each question and answer notifies the other side."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealerflow.models import PolicyQuestion
from dealerflow.core.errors import NotFound
from dealerflow.shared.notifications import notify


def ask(session: Session, *, policy_id: str, dealer_id: int, dealer_code: str, asked_by: str,
        question: str) -> PolicyQuestion:
    q = PolicyQuestion(policy_id=policy_id, dealer_id=dealer_id, asked_by=asked_by, question=question)
    session.add(q)
    session.flush()
    notify(session, role="hq", kind="question", title=f"Question on {policy_id} from {dealer_code}",
           body=question[:300], link=f"/console/policies/{policy_id}", dedup_key=f"question:{q.id}")
    return q


def answer(session: Session, *, policy_id: str, question_id: int, answered_by: str, text: str,
           publish_to_faq: bool, now: datetime) -> PolicyQuestion:
    q = session.get(PolicyQuestion, question_id)
    if q is None or q.policy_id != policy_id:
        raise NotFound("question not found")
    q.answer, q.answered_by, q.answered_at, q.in_faq = text, answered_by, now, publish_to_faq
    notify(session, dealer_id=q.dealer_id, kind="answer", title=f"HQ answered your question on {policy_id}",
           body=text[:300], link=f"/console/policies/{policy_id}", dedup_key=f"answer:{q.id}:{now.isoformat()}")
    return q


def visible(session: Session, *, policy_id: str, dealer_id: int | None) -> list[PolicyQuestion]:
    """A dealer's own questions and the policy's FAQ; with no dealer, every question."""
    q = select(PolicyQuestion).where(PolicyQuestion.policy_id == policy_id).order_by(PolicyQuestion.id)
    if dealer_id is not None:
        q = q.where(or_(PolicyQuestion.dealer_id == dealer_id, PolicyQuestion.in_faq))
    return list(session.scalars(q))
