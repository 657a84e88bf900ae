"""Read models of policies, their questions and their task assignments, with the caller's scope: a
dealer reads only what was delivered to it (anything else is a 404)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from markdown_it import MarkdownIt
from dealerflow.core.errors import Forbidden, NotFound
from dealerflow.models import Policy, PolicyTarget, RuleVersion
from dealerflow.policies import questions, rollout as policies, tasks as policy_tasks
from dealerflow.policies.figures import policy_figures
from dealerflow.models import PolicyAssignment, \
    PolicyQuestion


_markdown = MarkdownIt("commonmark", {"html": False})  # raw HTML in a policy body is shown as text


def policy_content(session: Session, policy_id: str, version: int | None) -> dict:
    """A policy version as people read it: the text (Markdown and safe HTML), window, tasks, FAQ."""
    spec = policies.spec_of(session, policy_id, version)
    ruleset_version = policies.policy_ruleset(session, policy_id, version).version
    faq = session.scalars(select(PolicyQuestion).where(PolicyQuestion.policy_id == policy_id, PolicyQuestion.in_faq)
                          .order_by(PolicyQuestion.answered_at))
    ack = spec.acknowledgment
    return {
        "id": spec.id, "version": ruleset_version, "title": spec.title, "category": spec.category,
        "body": spec.body, "body_html": _markdown.render(spec.body),
        "effective_from": spec.effective_from.isoformat(), "effective_to": spec.effective_to.isoformat(),
        "acknowledgment": {"required": ack.required, "deadline_seconds": ack.deadline_seconds},
        "tasks": [{"key": t.key, "title": t.title, "instructions": t.instructions, "due_seconds": t.due_seconds,
                   "evidence": list(t.evidence), "points": t.points} for t in spec.tasks],
        "faq": [{"question": q.question, "answer": q.answer} for q in faq],
    }


def assignment_read(session: Session, a: PolicyAssignment, *, with_evidence: bool = False,
                    specs: dict | None = None) -> dict:
    """One assignment; pass one `specs` dict for all rows of a list (one policy lookup per policy)."""
    policy = session.get(Policy, a.policy_id)
    task = policy_tasks.task_of(session, a, specs)
    out = {"id": str(a.id), "policy_id": a.policy_id, "policy_title": policy.title, "task_key": a.task_key,
           "title": task.title if task else a.task_key, "instructions": task.instructions if task else "",
           "evidence_required": list(task.evidence) if task else [], "points": task.points if task else 0,
           "status": a.status, "due_at": a.due_at, "overdue": policy_tasks.overdue_now(a),
           "submissions": a.submissions, "review_comment": a.review_comment, "accepted_at": a.accepted_at}
    if with_evidence:
        out["evidence"] = [{"id": e.id, "attempt": e.attempt, "kind": e.kind, "filename": e.filename,
                            "content_type": e.content_type, "size": e.size, "sha256": e.sha256,
                            "figures": e.figures, "note": e.note, "uploaded_at": e.uploaded_at}
                           for e in policy_tasks.evidence_of(session, a.id)]
    return out


def delivered(session, user, policy_id: str) -> PolicyTarget:
    target = policies.delivered_target(session, policy_id, user.dealer_id)
    if target is None:
        raise NotFound("policy not found")
    return target


def published(session, policy_id: str) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise NotFound("policy not published")
    return policy


def _delivered_to(user):
    return (PolicyTarget.dealer_id == user.dealer_id, PolicyTarget.delivered_at.is_not(None),
            PolicyTarget.removed_at.is_(None))


def delivered_count(session, user) -> int:
    """How many policies are delivered to a dealer, counted in SQL."""
    return session.scalar(select(func.count()).select_from(PolicyTarget).join(Policy, Policy.id == PolicyTarget.policy_id)
                          .where(*_delivered_to(user))) or 0


def policy_list(session, user, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Dealer: the policies delivered to it, unread first (`limit`/`offset`: a page of them).
    HQ/admin: every policy file and its rollout."""
    if user.role == "dealer":
        rows = session.execute(
            select(PolicyTarget, Policy).join(Policy, Policy.id == PolicyTarget.policy_id)
            .where(*_delivered_to(user))
            .order_by(PolicyTarget.read_at.is_not(None), PolicyTarget.delivered_at.desc(), Policy.id)
            .limit(limit).offset(offset)).all()
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
    target = delivered(session, user, policy_id)
    policies.mark_read(session, policy_id=policy_id, dealer_id=user.dealer_id, now=datetime.now(timezone.utc))
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


def questions_for(session, user, policy_id: str) -> list[dict]:
    """Dealer: my questions and the policy's FAQ. HQ: every question."""
    if user.role == "dealer":
        delivered(session, user, policy_id)
    elif user.role not in ("hq", "admin"):
        raise NotFound("policy not found")
    return [question_read(x) for x in questions.visible(
        session, policy_id=policy_id, dealer_id=user.dealer_id if user.role == "dealer" else None)]


def question_read(q: PolicyQuestion) -> dict:
    return {"id": q.id, "question": q.question, "asked_at": q.asked_at, "answer": q.answer,
            "answered_at": q.answered_at, "in_faq": q.in_faq}


def policy_status(session, policy_id: str) -> dict:
    policy = published(session, policy_id)
    return policy_figures(session, policy, policies.spec_of(session, policy_id, policy.version))
