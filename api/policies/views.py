"""Read models of policies and their task assignments."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from markdown_it import MarkdownIt
from dealerflow.policies import rollout as policies, tasks as policy_tasks
from dealerflow.models import Policy, PolicyAssignment, \
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
