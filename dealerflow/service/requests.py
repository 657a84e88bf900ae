"""A dealer's request from filing to rating: filed with its text and attachments, routed to its
category's role (the dealer's account manager by default) as a human task, answered in its thread,
paused while HQ waits for the dealer, closed by completing the task (approved or rejected for a
promotion application), rated once by the dealer, reopened within the rule file's window.

Services take the session of the caller, who owns the transaction."""
from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealerflow.contracts import TaskResult, TaskSpec, service_workflow_id, task_workflow_id
from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.models import Dealer, ServiceEvent, ServiceMessage, ServiceRequest, User
from dealerflow.shared import human_tasks
from dealerflow.shared.notifications import notify
from policies_dsl.kinds.service import ServiceSpec, terms

from . import sla
from .rules import record_shadows, with_shadows
from .rules import ruleset as service_rules

MAX_SUBJECT = 200
MAX_TEXT = 5000
MAX_COMMENT = 2000
# The request's human task never escalates by its own timer: the SLA sweep does, on working time.
TASK_SLA_SECONDS = 3650 * 86400
STAFF_STATUSES = ("in_progress", "waiting_dealer")


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid("must not be empty", field=field)
    if len(value) > limit:
        raise Invalid(f"at most {limit} characters", field=field)
    return value


def _assignee(session: Session, dealer: Dealer, route: str) -> tuple[str, int | None]:
    """The category's role; for account_manager the dealer's own, when it has one who can sign in —
    else HQ (never every account manager)."""
    if route != "account_manager":
        return route, None
    user_id = session.scalar(select(User.id).where(User.username == dealer.account_manager,
                                                   User.role == "account_manager", User.active.is_(True))) \
        if dealer.account_manager else None
    return (route, user_id) if user_id is not None else ("hq", None)


def _task_spec(request: ServiceRequest, spec: ServiceSpec) -> TaskSpec:
    category = spec.category(request.category)
    outcomes = category.outcomes if category else ["resolved"]
    return TaskSpec(task_id=str(request.task_id), kind="service_request",
                    title=f"Request #{request.number}: {request.subject}", subject_type="service_request",
                    subject_id=str(request.id), assignee_role=request.assignee_role, outcomes=outcomes,
                    sla_seconds=TASK_SLA_SECONDS, escalate_to=request.escalate_to, dealer_id=request.dealer_id,
                    payload={"request": request.number, "category": request.category,
                             "link": f"/console/service/{request.id}"},
                    assignee_user_id=request.assignee_user_id)


def file_request(session: Session, *, dealer: Dealer, actor: str, category: str, subject: str | None,
                 text: str | None, attachments: list[dict], now: datetime) -> tuple[ServiceRequest, TaskSpec]:
    """Checks everything before writing: an unknown category, an empty subject or text is an Invalid
    naming the field. Writes the request, its first message, its clocks and its human task."""
    ruleset, spec, shadows = with_shadows(session)
    if spec.category(category or "") is None:
        raise Invalid(f"unknown category {category!r}: one of {', '.join(spec.categories)}", field="category")
    subject = _text(subject, "subject", MAX_SUBJECT)
    body = _text(text, "text", MAX_TEXT)
    t = terms(ruleset, spec, category=category, tier=dealer.tier)
    role, user_id = _assignee(session, dealer, t.route)
    request_id = uuid.uuid4()
    request = ServiceRequest(
        id=request_id, dealer_id=dealer.id, category=category, subject=subject, status="open", tier=dealer.tier,
        region=dealer.region, assignee_role=role, assignee_user_id=user_id, escalate_to=t.escalate_to,
        task_id=uuid.uuid4(), workflow_id=service_workflow_id(str(request_id)), ruleset_version=ruleset.version,
        filed_by=actor, reopened=0, created_at=now)
    session.add(request)
    session.flush()  # the number, and the row its thread and clocks refer to
    session.add(ServiceMessage(request_id=request_id, author=actor, author_role="dealer", body=body,
                               attachments=attachments, created_at=now))
    sla.start(session, request, spec, t.target, now)
    session.add(ServiceEvent(request_id=request_id, actor=actor, action="filed", at=now, detail={
        "category": category, "tier": dealer.tier, "rule": t.rule, "reason": t.reason, "ruleset": ruleset.name,
        "version": ruleset.version, "targets": {"response": t.target.response, "resolution": t.target.resolution},
        "assignee": {"role": role, "user_id": user_id}}))
    record_shadows(session, shadows, subject=f"{request.number}:filed", live=ruleset, t=t,
                   context={"dealer": dealer.code, "region": dealer.region, "tier": dealer.tier,
                            "category": category, "request": str(request_id)})
    task = _task_spec(request, spec)
    human_tasks.open_task(session, task, workflow_id=task_workflow_id(task.task_id), now=now)
    sla._sync_task(session, request)
    return request, task


def request_of(session: Session, request_id: uuid.UUID, *, lock: bool = False) -> ServiceRequest:
    q = select(ServiceRequest).where(ServiceRequest.id == request_id)
    request = session.scalars(q.with_for_update() if lock else q).first()
    if request is None:
        raise NotFound("request not found")
    return request


def _is_staff(user: User) -> bool:
    return user.role != "dealer"


def _tell_other_side(session: Session, request: ServiceRequest, user: User, what: str) -> None:
    link = f"/console/service/{request.id}"
    title = f"Request #{request.number} {request.subject}: {what}"
    if _is_staff(user):
        notify(session, dealer_id=request.dealer_id, kind="service", title=title, link=link)
    elif request.assignee_user_id is not None:
        notify(session, user_id=request.assignee_user_id, kind="service", title=title, link=link)
    else:
        notify(session, role=request.assignee_role, kind="service", title=title, link=link)


def post_message(session: Session, request: ServiceRequest, *, user: User, text: str | None, attachments: list[dict],
                 now: datetime) -> ServiceMessage:
    """A message in the thread. The first answer from staff stops the first-response clock; the dealer's
    answer while HQ waits for it starts the clock again."""
    body = _text(text, "text", MAX_TEXT)
    request = request_of(session, request.id, lock=True)
    if request.status == "closed":
        raise Conflict("the request is closed: reopen it to write again")
    _, spec = service_rules(session)
    message = ServiceMessage(request_id=request.id, author=user.username, author_role=user.role, body=body,
                             attachments=attachments, created_at=now)
    session.add(message)
    if _is_staff(user):
        if request.first_response_at is None:
            request.first_response_at = now
            sla.stop(session, request, spec, now, clocks=("response",))
            session.add(ServiceEvent(request_id=request.id, actor=user.username, action="answered", at=now))
        if request.status == "open":
            request.status = "in_progress"
    elif request.status == "waiting_dealer":
        _move(session, request, spec, "in_progress", user.username, now)
    _tell_other_side(session, request, user, "new message")
    session.flush()
    return message


def _move(session: Session, request: ServiceRequest, spec: ServiceSpec, status: str, actor: str, now: datetime) -> None:
    before = request.status
    paused_before, paused_after = before in spec.pausing, status in spec.pausing
    request.status = status
    if paused_after and not paused_before:
        sla.pause(session, request, spec, now)
    elif paused_before and not paused_after:
        sla.resume(session, request, spec, now)
    session.add(ServiceEvent(request_id=request.id, actor=actor, action="status", at=now,
                             detail={"from": before, "to": status, "paused": paused_after}))


def set_status(session: Session, request: ServiceRequest, *, user: User, status: str, now: datetime) -> None:
    """Staff mark a request in progress or waiting for the dealer (which stops the clock when the rule
    file says so). Closing goes through the request's task."""
    if status not in STAFF_STATUSES:
        raise Invalid(f"one of {', '.join(STAFF_STATUSES)}; close a request by completing it", field="status")
    request = request_of(session, request.id, lock=True)
    if request.status == "closed":
        raise Conflict("the request is closed")
    if request.status == status:
        return
    _, spec = service_rules(session)
    _move(session, request, spec, status, user.username, now)
    if status == "waiting_dealer":
        notify(session, dealer_id=request.dealer_id, kind="service",
               title=f"Request #{request.number} {request.subject}: waiting for your answer",
               link=f"/console/service/{request.id}")


def close(session: Session, request_id: uuid.UUID, result: TaskResult, now: datetime) -> bool:
    """The request's task was completed: the request is closed with its outcome, its clocks stop and
    the dealer is asked to rate the answer. A second call changes nothing."""
    request = request_of(session, request_id, lock=True)
    if request.status == "closed" or str(request.task_id) != result.task_id:
        return False
    _, spec = service_rules(session)
    request.status, request.outcome = "closed", result.outcome
    request.closed_at, request.closed_by = now, result.actor
    if request.first_response_at is None:
        request.first_response_at = now
    sla.stop(session, request, spec, now)
    if result.comment:
        session.add(ServiceMessage(request_id=request.id, author=result.actor, author_role="staff",
                                   body=result.comment, attachments=[], created_at=now))
    session.add(ServiceEvent(request_id=request.id, actor=result.actor, action="closed", at=now,
                             detail={"outcome": result.outcome}))
    notify(session, dealer_id=request.dealer_id, kind="service",
           title=f"Request #{request.number} {request.subject}: {result.outcome}; please rate the answer",
           link=f"/console/service/{request.id}", dedup_key=f"service-closed:{request.id}:{request.reopened}")
    return True


def rate(session: Session, request: ServiceRequest, *, user: User, score: int, comment: str | None,
         now: datetime) -> None:
    """The dealer rates a closed request once, on the rule file's scale."""
    _, spec = service_rules(session)
    if isinstance(score, bool) or not isinstance(score, int) or not spec.rating_min <= score <= spec.rating_max:
        raise Invalid(f"a score from {spec.rating_min} to {spec.rating_max}", field="score")
    comment = _text(comment, "comment", MAX_COMMENT, required=False)
    if request.status != "closed":
        raise Conflict("a request is rated once it is closed")
    done = session.execute(update(ServiceRequest).where(ServiceRequest.id == request.id,
                                                        ServiceRequest.rated_at.is_(None),
                                                        ServiceRequest.status == "closed")
                           .values(satisfaction=score, satisfaction_comment=comment or None, rated_at=now))
    if not done.rowcount:
        raise Conflict("this request has already been rated")
    session.add(ServiceEvent(request_id=request.id, actor=user.username, action="rated", at=now,
                             detail={"score": score}))


def reopen(session: Session, request: ServiceRequest, *, user: User, text: str | None,
           now: datetime) -> TaskSpec:
    """The dealer reopens a closed request within the rule file's window: a new task, the resolution
    clock runs on, its rating is cleared for a new one."""
    body = _text(text, "text", MAX_TEXT)
    request = request_of(session, request.id, lock=True)
    _, spec = service_rules(session)
    if request.status != "closed":
        raise Conflict("only a closed request can be reopened")
    if request.closed_at + timedelta(seconds=spec.reopen_within) < now:
        raise Conflict(f"a request can be reopened within {spec.reopen_within // 86400} days of its closure")
    request.status, request.outcome, request.closed_at, request.closed_by = "in_progress", None, None, None
    request.satisfaction = request.satisfaction_comment = request.rated_at = None
    request.reopened += 1
    request.task_id = uuid.uuid4()
    session.add(ServiceMessage(request_id=request.id, author=user.username, author_role="dealer", body=body,
                               attachments=[], created_at=now))
    sla.restart_resolution(session, request, spec, now)
    session.add(ServiceEvent(request_id=request.id, actor=user.username, action="reopened", at=now))
    task = _task_spec(request, spec)
    human_tasks.open_task(session, task, workflow_id=task_workflow_id(task.task_id), now=now)
    session.flush()
    sla._sync_task(session, request)
    return task


def thread(session: Session, request_id: uuid.UUID) -> list[ServiceMessage]:
    return list(session.scalars(select(ServiceMessage).where(ServiceMessage.request_id == request_id)
                                .order_by(ServiceMessage.id)))


def events(session: Session, request_id: uuid.UUID) -> list[ServiceEvent]:
    return list(session.scalars(select(ServiceEvent).where(ServiceEvent.request_id == request_id)
                                .order_by(ServiceEvent.id)))


def task_spec_json(task: TaskSpec) -> dict:
    return asdict(task)
