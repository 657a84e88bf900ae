"""Read models: database rows → response shapes, with the caller's dealer scope applied."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from markdown_it import MarkdownIt

from dealerflow import policies, policy_tasks, tasks
from dealerflow.models import Dealer, Decision, HumanTask, Order, OrderEvent, OrderLine, Policy, PolicyAssignment, \
    PolicyQuestion, User

from .schemas import DecisionRead, OrderEventRead, OrderLineRead, OrderRead, OrderSummary, TaskRead


def parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def dealer_scope(user: User):
    """A dealer sees its own orders and, for a level-1 dealer, those of its level-2 dealers."""
    if user.role != "dealer":
        return None
    children = select(Dealer.id).where(Dealer.parent_id == user.dealer_id)
    return or_(Order.dealer_id == user.dealer_id, Order.dealer_id.in_(children))


def visible_order(session: Session, user: User, order_id: str) -> Order | None:
    oid = parse_uuid(order_id)
    if oid is None:
        return None
    q = select(Order).where(Order.id == oid)
    scope = dealer_scope(user)
    if scope is not None:
        q = q.where(scope)
    return session.scalars(q).first()


def order_summaries(session: Session, user: User, *, status: str | None, limit: int) -> list[OrderSummary]:
    """The newest orders the caller may see, in one query."""
    q = (select(Order.id, Dealer.code, Order.status, Order.amount, Order.created_at, Decision.rule)
         .join(Dealer, Dealer.id == Order.dealer_id)
         .outerjoin(Decision, (Decision.subject_type == "order") & (Decision.subject_id == cast(Order.id, String)))
         .order_by(Order.created_at.desc()).limit(limit))
    scope = dealer_scope(user)
    if scope is not None:
        q = q.where(scope)
    if status:
        q = q.where(Order.status == status)
    return [OrderSummary(id=str(r[0]), dealer_code=r[1], status=r[2], amount=r[3], created_at=r[4], rule=r[5])
            for r in session.execute(q)]


def order_read(session: Session, order: Order | uuid.UUID) -> OrderRead | None:
    """The whole order in three queries: the order with its dealer, decision and review task; its
    lines; its history."""
    order_id = order.id if isinstance(order, Order) else order
    subject = (Decision.subject_type == "order") & (Decision.subject_id == cast(Order.id, String))
    task = (select(HumanTask.id).where(HumanTask.subject_type == "order",
                                       HumanTask.subject_id == cast(Order.id, String))
            .order_by(HumanTask.created_at).limit(1).scalar_subquery())
    row = session.execute(select(Order.id, Order.status, Order.amount, Order.created_at, Dealer.code, Decision,
                                 task.label("task_id"))
                          .join(Dealer, Dealer.id == Order.dealer_id).outerjoin(Decision, subject)
                          .where(Order.id == order_id)).first()
    if row is None:
        return None
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    events = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
    return OrderRead(
        id=str(row.id), dealer_code=row.code, status=row.status, amount=row.amount, created_at=row.created_at,
        lines=[OrderLineRead(line_no=l.line_no, sku=l.sku, quantity=l.quantity, unit_price=l.unit_price,
                             amount=l.amount) for l in lines],
        decision=decision_read(row.Decision) if row.Decision else None,
        history=[OrderEventRead(at=e.at, status=e.status, actor=e.actor, note=e.note) for e in events],
        review_task_id=str(row.task_id) if row.task_id else None)


def decision_read(d: Decision) -> DecisionRead:
    x = d.explanation
    return DecisionRead(ruleset=d.ruleset, version=d.version, rule=d.rule, outcome=d.outcome,
                        reason=x.get("reason", ""), matched=x.get("matched", []), facts=x.get("facts", {}),
                        decided_at=d.decided_at)


def task_read(session: Session, task: HumanTask, *, with_history: bool = False) -> TaskRead:
    history = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
               for e in tasks.events(session, task.id)] if with_history else []
    return TaskRead(
        id=str(task.id), kind=task.kind, title=task.title, status=task.status,
        subject_type=task.subject_type, subject_id=task.subject_id, assignee_role=task.assignee_role,
        escalated_to_role=task.escalated_to_role, outcomes=task.outcomes, payload=task.payload,
        due_at=task.due_at, overdue=task.status == "open" and task.due_at < datetime.now(timezone.utc),
        outcome=task.outcome, comment=task.comment, completed_by=task.completed_by,
        completed_at=task.completed_at, history=history)


# --- policies ----------------------------------------------------------------------------------

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
