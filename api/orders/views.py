"""Read models of orders: rows → response shapes, with the caller's dealer scope applied."""
from __future__ import annotations

import uuid
from types import SimpleNamespace
from datetime import datetime
from sqlalchemy import String, cast, func, or_, select, true
from sqlalchemy.orm import Session
from dealerflow.models import Dealer, Decision, HumanTask, Order, OrderEvent, OrderLine, User
from dealerflow.orders import credit as orders
from dealerflow.stock import allocation
from api.orders.schemas import AllocationLineRead, AllocationRead, DecisionRead, OrderEventRead, OrderLineRead, OrderRead, OrderSummary
from api.scope import dealer_scope, parse_uuid


def visible_order(session: Session, user: User, order_id: str) -> Order | None:
    oid = parse_uuid(order_id)
    if oid is None:
        return None
    q = select(Order).where(Order.id == oid)
    scope = dealer_scope(user)
    if scope is not None:
        q = q.where(scope)
    return session.scalars(q).first()


def order_summaries(session: Session, user: User, *, status: str | None, limit: int, offset: int = 0,
                    search: str | None = None, since: datetime | None = None,
                    before: datetime | None = None) -> list[OrderSummary]:
    """The newest orders the caller may see, in one query; who decided: the credit rule, or the person
    who completed the order's review."""
    review = (select(HumanTask.completed_by, HumanTask.outcome)
              .where(HumanTask.subject_type == "order", HumanTask.subject_id == cast(Order.id, String),
                     HumanTask.status == "completed")
              .order_by(HumanTask.completed_at.desc()).limit(1).lateral("review"))
    q = (select(Order.id, Dealer.code, Order.status, Order.amount, Order.created_at, Decision.rule,
                review.c.completed_by, review.c.outcome)
         .join(Dealer, Dealer.id == Order.dealer_id)
         .outerjoin(Decision, (Decision.subject_type == "order") & (Decision.subject_id == cast(Order.id, String)))
         .outerjoin(review, true())
         .order_by(Order.created_at.desc()).limit(limit).offset(offset))
    q = _order_filters(q, user, status=status, search=search, since=since, before=before)
    return [OrderSummary(id=str(r[0]), dealer_code=r[1], status=r[2], amount=r[3], created_at=r[4], rule=r[5],
                         reviewed_by=r[6], review_outcome=r[7])
            for r in session.execute(q)]


def order_count(session: Session, user: User, *, status: str | None, search: str | None = None,
                since: datetime | None = None, before: datetime | None = None) -> int:
    """How many orders `order_summaries` would list without a limit, counted in SQL."""
    q = select(func.count()).select_from(Order).join(Dealer, Dealer.id == Order.dealer_id)
    return session.scalar(_order_filters(q, user, status=status, search=search, since=since, before=before)) or 0


def _order_filters(q, user: User, *, status, search, since, before):
    scope = dealer_scope(user)
    if scope is not None:
        q = q.where(scope)
    if status:
        q = q.where(Order.status == status)
    if search:  # the start of an order's id, or of a dealer's code
        like = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(cast(Order.id, String).like(like.lower(), escape="\\"),
                        Dealer.code.ilike(like, escape="\\")))
    if since is not None:
        q = q.where(Order.created_at >= since)
    if before is not None:
        q = q.where(Order.created_at < before)
    return q


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
        review_task_id=str(row.task_id) if row.task_id else None,
        allocation=allocation_read(session, order_id))


def allocation_read(session: Session, order_id: uuid.UUID) -> AllocationRead | None:
    rows = allocation.order_allocations(session, order_id)
    decided = session.scalars(select(Decision).where(Decision.subject_type == allocation.SUBJECT,
                                                     Decision.subject_id == str(order_id))).first()
    if not rows and decided is None:
        return None
    return AllocationRead(
        reserved=sum(r.quantity for r in rows if r.status in ("reserved", "consumed")),
        backordered=sum(r.quantity for r in rows if r.status == "backordered"),
        lines=[AllocationLineRead(line_no=r.line_no, sku=r.sku, warehouse=r.code, quantity=r.quantity, status=r.status,
                                  priority=r.priority) for r in rows],
        decision=decision_read(decided) if decided else None)


def placed_read(order_id: uuid.UUID, w: orders.Written) -> OrderRead:
    """A placed order as `order_read` shows it, from what placing it wrote (no read back)."""
    rows = w.allocations
    return OrderRead(
        id=str(order_id), dealer_code=w.dealer_code, status=w.status, amount=w.amount, created_at=w.created_at,
        lines=[OrderLineRead(line_no=l.line_no, sku=l.sku, quantity=l.quantity, unit_price=l.unit_price,
                             amount=l.amount) for l in w.lines],
        decision=decision_read(SimpleNamespace(**w.credit)),
        history=[OrderEventRead(at=at, status=status, actor=actor, note=note) for at, status, actor, note in w.events],
        review_task_id=None,
        allocation=None if not rows and w.allocation is None else AllocationRead(
            reserved=sum(r["quantity"] for r in rows if r["status"] == "reserved"),
            backordered=sum(r["quantity"] for r in rows if r["status"] == "backordered"),
            lines=[AllocationLineRead(**r) for r in rows],
            decision=decision_read(SimpleNamespace(**w.allocation)) if w.allocation else None))


def decision_read(d: Decision) -> DecisionRead:
    x = d.explanation
    return DecisionRead(ruleset=d.ruleset, version=d.version, rule=d.rule, outcome=d.outcome,
                        reason=x.get("reason", ""), matched=x.get("matched", []), facts=x.get("facts", {}),
                        decided_at=d.decided_at, reason_zh=x.get("reason_zh"))
