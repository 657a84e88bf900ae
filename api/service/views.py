"""Read models of dealer requests: one request with its thread, clocks and history; lists by scope."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.core.errors import NotFound
from dealerflow.models import Dealer, HumanTask, ServiceClock, ServiceMessage, ServiceRequest, User
from dealerflow.service import requests as service
from dealerflow.service.rules import ruleset as service_rules

from api.scope import dealer_filter, parse_uuid, sees_dealer


def visible_request(session: Session, user: User, request_id: str) -> ServiceRequest:
    """The request, if the caller may see its dealer; another dealer's request is a 404."""
    rid = parse_uuid(request_id)
    request = session.get(ServiceRequest, rid) if rid else None
    if request is None or not sees_dealer(user, session.get(Dealer, request.dealer_id)):
        raise NotFound("request not found")
    return request


def _filtered(q, user: User, *, status: str | None, category: str | None, dealer_id: int | None = None):
    condition = dealer_filter(user, ServiceRequest.dealer_id)
    if condition is not None:
        q = q.where(condition)
    if status == "active":
        q = q.where(ServiceRequest.status != "closed")
    elif status:
        q = q.where(ServiceRequest.status == status)
    if category:
        q = q.where(ServiceRequest.category == category)
    if dealer_id is not None:
        q = q.where(ServiceRequest.dealer_id == dealer_id)
    return q


def request_count(session: Session, user: User, *, status: str | None = None, category: str | None = None) -> int:
    return session.scalar(_filtered(select(func.count()).select_from(ServiceRequest), user, status=status,
                                     category=category)) or 0


def request_list(session: Session, user: User, *, status: str | None = None, category: str | None = None,
                 limit: int = 50, offset: int = 0) -> list[dict]:
    q = _filtered(select(ServiceRequest, Dealer.code, Dealer.name).join(Dealer, Dealer.id == ServiceRequest.dealer_id),
                  user, status=status, category=category)
    rows = session.execute(q.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id)
                           .limit(limit).offset(offset)).all()
    due = _resolution_due(session, [r.id for r, _, _ in rows])
    return [_summary(r, code, name, due.get(r.id)) for r, code, name in rows]


def _resolution_due(session: Session, ids: list) -> dict:
    if not ids:
        return {}
    rows = session.execute(select(ServiceClock.request_id, ServiceClock.due_at, ServiceClock.breached_at)
                           .where(ServiceClock.request_id.in_(ids), ServiceClock.clock == "resolution")).all()
    return {rid: (due, breached) for rid, due, breached in rows}


def _summary(r: ServiceRequest, code: str, name: str, due) -> dict:
    due_at, breached_at = due or (None, None)
    return {"id": str(r.id), "number": r.number, "dealer_code": code, "dealer_name": name, "category": r.category,
            "subject": r.subject, "status": r.status, "tier": r.tier, "assignee_role": r.assignee_role,
            "outcome": r.outcome, "satisfaction": r.satisfaction, "created_at": r.created_at,
            "due_at": due_at, "breached": breached_at is not None, "closed_at": r.closed_at}


def request_read(session: Session, r: ServiceRequest, *, lang: str = "en") -> dict:
    dealer = session.get(Dealer, r.dealer_id)
    _, spec = service_rules(session)
    category = spec.category(r.category)
    clocks = session.scalars(select(ServiceClock).where(ServiceClock.request_id == r.id)
                             .order_by(ServiceClock.clock.desc())).all()
    assignee = session.get(User, r.assignee_user_id) if r.assignee_user_id else None
    open_task = None
    if r.task_id is not None:
        t = session.get(HumanTask, r.task_id)
        if t is not None:
            open_task = {"id": str(t.id), "status": t.status, "outcomes": list(t.outcomes),
                         "escalated_to_role": t.escalated_to_role}
    reopen_until = (r.closed_at + timedelta(seconds=spec.reopen_within)) if r.closed_at else None
    return {
        **_summary(r, dealer.code, dealer.name, None),
        "category_title": category.title_in(lang) if category else r.category,
        "approval": bool(category and category.approval),
        "assignee": assignee.username if assignee else None, "escalate_to": r.escalate_to,
        "satisfaction_comment": r.satisfaction_comment, "rated_at": r.rated_at,
        "first_response_at": r.first_response_at, "closed_by": r.closed_by, "reopened": r.reopened,
        "reopen_until": reopen_until, "rating_scale": [spec.rating_min, spec.rating_max],
        "task": open_task,
        "clocks": [{"clock": c.clock, "tier": c.tier, "target_seconds": c.target_s, "used_seconds": c.used_s,
                    "running": c.running_since is not None, "due_at": c.due_at, "remind_at": c.remind_at,
                    "reminded_at": c.reminded_at, "breached_at": c.breached_at, "stopped_at": c.stopped_at,
                    "met": c.met} for c in clocks],
        "messages": [{"id": m.id, "author": m.author, "author_role": m.author_role, "body": m.body,
                      "created_at": m.created_at,
                      "attachments": [{**a, "url": f"/api/v1/service/requests/{r.id}/attachments/{m.id}/{i}"}
                                      for i, a in enumerate(m.attachments or [])]}
                     for m in service.thread(session, r.id)],
        "events": [{"at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail}
                   for e in service.events(session, r.id)],
    }


def categories(session: Session, lang: str = "en") -> list[dict]:
    _, spec = service_rules(session)
    return [{"name": c.name, "title": c.title_in(lang), "approval": c.approval} for c in spec.categories.values()]


def attachment_of(session: Session, r: ServiceRequest, message_id: int, index: int) -> dict:
    m = session.get(ServiceMessage, message_id)
    if m is None or m.request_id != r.id or not 0 <= index < len(m.attachments or []):
        raise NotFound("attachment not found")
    return m.attachments[index]


__all__ = ["visible_request", "request_list", "request_count", "request_read", "categories", "attachment_of",
           ]
