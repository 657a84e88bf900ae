"""Console pages of the policy rollout. Dealers read, acknowledge and ask about their policies and do
their policy tasks; HQ previews, publishes, withdraws, answers and watches the live figures. The
handlers are thin: they call the same services and read models as the JSON routes."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError
from dealerflow.core.errors import NotFound
from dealerflow.policies import questions as policy_questions, rollout as policies, tasks as policy_tasks

from api.policies import temporal
from api.pages import back, refusal, require, translator, ConsoleUser, page, templates
from api.paging import paging
from api.deps import SessionDep, TemporalDep
from api.policies.schemas import AnswerCreate, QuestionCreate, WithdrawBody
from api.policies import task_routes as task_api
from api.policies.views import (assignment_read, dealer_policy, delivered, delivered_count, policy_list, policy_status, questions_for,
                                staff_policy)

router = APIRouter(prefix="/console", include_in_schema=False)
STAFF = ("hq", "admin")
ACTIVE = ("pilot", "awaiting_decision", "rolling_out", "active")  # a rollout that can still be withdrawn


# --- policies ----------------------------------------------------------------------------------

@router.get("/policies")
def policies_page(request: Request, session: SessionDep, user: ConsoleUser):
    """A dealer's delivered policies, or HQ's policy files: a page at a time."""
    if user.role == "dealer":
        pager = paging(request, delivered_count(session, user))
        rows = policy_list(session, user, limit=pager.limit, offset=pager.offset)
    else:
        rows = policy_list(session, user)  # one row per policy file: paged here
        pager = paging(request, len(rows))
        rows = pager.slice(rows)
    return page(request, "policies.html", user, policies=rows, pager=pager)


def _policy_page(request, session, user, policy_id: str, error: str | None = None, status_code: int = 200,
                 publishing: int | None = None, form: dict | None = None):
    if user.role == "dealer":
        content = dealer_policy(session, user, policy_id)  # 404 unless delivered to this dealer
        session.commit()  # marked read
        mine, specs = policy_tasks.assignments_for(session, user.dealer_id, policy_id=policy_id), {}
        asked = [q for q in questions_for(session, user, policy_id) if not q["in_faq"]]  # FAQ is in content
        return page(request, "policy.html", user, status_code, policy=content, error=error, questions=asked,
                    assignments=[assignment_read(session, a, specs=specs) for a in mine], form=form or {})
    if user.role not in STAFF:
        raise NotFound("policy not found")
    content = staff_policy(session, policy_id)
    figures = policy_status(session, policy_id) if content["status"] != "draft" else None
    deployed = policies.policy_ruleset(session, policy_id).version
    # Published, but the rollout has not written the policy yet: say so, and offer no second publish.
    publishing = publishing if publishing and content["status"] == "draft" else None
    if publishing:
        content = {**content, "status": "publishing"}
    # What a publish would do: reach the targets of a draft, or amend with a newer deployed version.
    publishable = not publishing and deployed > (figures["version"] if figures else 0)
    return page(request, "policy_hq.html", user, status_code, policy=content, figures=figures, error=error,
                deployed_version=deployed, preview=policies.preview(session, policy_id) if publishable else None,
                questions=questions_for(session, user, policy_id), may_act=user.role == "hq",
                may_publish=publishable, may_withdraw=bool(figures) and figures["status"] in ACTIVE,
                publishing=publishing)


async def _policy_again(request, user, policy_id: str, e: Exception):
    """The policy page again with the error, in a session of its own (the caller awaited Temporal)."""
    message, status_code = refusal(e, request)

    def render():
        with request.app.state.sessions() as session:
            return _policy_page(request, session, user, policy_id, message, status_code)
    return await run_in_threadpool(render)


@router.get("/policies/{policy_id}")
def policy_page(policy_id: str, request: Request, session: SessionDep, user: ConsoleUser,
                publishing: int | None = None):
    """`publishing` (a version): HQ has just published it; until the rollout writes the policy the
    page says "publishing…" and refreshes."""
    return _policy_page(request, session, user, policy_id, publishing=publishing)


@router.get("/policies/{policy_id}/figures")
def policy_figures(policy_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    """The live figures alone: the HQ page reloads this part, so forms being filled in stay."""
    if user.role not in STAFF:
        raise NotFound("policy not found")
    return templates.TemplateResponse(request, "_policy_figures.html",
                                      {"figures": policy_status(session, policy_id)})


@router.post("/policies/{policy_id}/acknowledge")
def acknowledge(policy_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer")
    policies.acknowledge(session, policy_id=policy_id, dealer_id=user.dealer_id, now=datetime.now(timezone.utc))
    session.commit()
    return back(f"/console/policies/{policy_id}", flash=translator(request)("Policy acknowledged."))


@router.post("/policies/{policy_id}/questions")
def ask(policy_id: str, request: Request, session: SessionDep, user: ConsoleUser,
        question: Annotated[str, Form()] = ""):
    require(user, "dealer")
    try:
        body = QuestionCreate(question=question)
    except ValidationError as e:
        return _policy_page(request, session, user, policy_id, refusal(e, request)[0], 422,
                            form={"question": question, "fault": "question"})
    delivered(session, user, policy_id)
    policy_questions.ask(session, policy_id=policy_id, dealer_id=user.dealer_id, dealer_code=user.dealer.code,
                         asked_by=user.username, question=body.question)
    session.commit()
    return back(f"/console/policies/{policy_id}", flash=translator(request)("Question sent: HQ will answer it here."))


@router.post("/policies/{policy_id}/questions/{question_id}/answer")
def answer(policy_id: str, question_id: int, request: Request, session: SessionDep, user: ConsoleUser,
           answer: Annotated[str, Form()] = "", publish_to_faq: Annotated[bool, Form()] = False):
    require(user, "hq")
    try:
        body = AnswerCreate(answer=answer, publish_to_faq=publish_to_faq)
    except ValidationError as e:
        return _policy_page(request, session, user, policy_id, refusal(e, request)[0], 422)
    policy_questions.answer(session, policy_id=policy_id, question_id=question_id, answered_by=user.username,
                            text=body.answer, publish_to_faq=body.publish_to_faq, now=datetime.now(timezone.utc))
    session.commit()
    _ = translator(request)
    return back(f"/console/policies/{policy_id}",
                flash=_("Answer sent and added to the FAQ.") if body.publish_to_faq else _("Answer sent."))


@router.post("/policies/{policy_id}/publish")
async def publish(policy_id: str, request: Request, client: TemporalDep, user: ConsoleUser):
    require(user, "hq")
    try:
        published = await temporal.publish_policy(client=client, task_queue=request.app.state.settings.task_queue,
                                                  sessions=request.app.state.sessions, policy_id=policy_id,
                                                  actor=user.username)
    except DomainError as e:
        return await _policy_again(request, user, policy_id, e)
    _ = translator(request)
    done = _("Version %(version)s published.", version=published.version)
    if published.action == "started":  # the page says "publishing…" until the rollout has written the policy
        return back(f"/console/policies/{policy_id}?publishing={published.version}", flash=done)
    return back(f"/console/policies/{policy_id}", flash=done)


@router.post("/policies/{policy_id}/withdraw")
async def withdraw(policy_id: str, request: Request, client: TemporalDep, user: ConsoleUser,
                   reason: Annotated[str, Form()] = ""):
    require(user, "hq")
    try:
        body = WithdrawBody(reason=reason)
        await temporal.withdraw_policy(client=client, sessions=request.app.state.sessions, policy_id=policy_id,
                                       actor=user.username, reason=body.reason)
    except (DomainError, ValidationError) as e:
        return await _policy_again(request, user, policy_id, e)
    return back(f"/console/policies/{policy_id}", flash=translator(request)("Policy withdrawn."))


# --- policy tasks ------------------------------------------------------------------------------

@router.get("/policy-tasks")
def task_list(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer")
    specs: dict = {}
    pager = paging(request, policy_tasks.assignment_count(session, user.dealer_id))
    rows = [assignment_read(session, a, specs=specs) for a in policy_tasks.assignments_for(
        session, user.dealer_id, limit=pager.limit, offset=pager.offset)]
    return page(request, "policy_tasks.html", user, assignments=rows, pager=pager,
                points=policy_tasks.points(session, user.dealer_id))


def _task_page(request, session, user, assignment_id: str, error: str | None = None, status_code: int = 200,
               form: dict | None = None):
    a = task_api.visible_assignment(session, user, assignment_id)  # another dealer's task: 404
    return page(request, "policy_task.html", user, status_code, a=assignment_read(session, a, with_evidence=True),
                may_submit=user.role == "dealer" and a.status in policy_tasks.SUBMITTABLE, error=error,
                form=form or {})


@router.get("/policy-tasks/{assignment_id}")
def task_page(assignment_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    return _task_page(request, session, user, assignment_id)


@router.post("/policy-tasks/{assignment_id}")
async def submit(assignment_id: str, request: Request, client: TemporalDep, user: ConsoleUser):
    """The task page's form (photo, video, document, figures, note), read only once the caller is
    known to be this task's dealer: the same streaming reader as the API."""
    require(user, "dealer")
    form = None
    try:
        form = await task_api.receive_evidence(request=request, user=user, assignment_id=assignment_id)
        await task_api.submit_uploads(request=request, client=client, user=user, assignment_id=assignment_id,
                                      form=form)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        message, status_code = refusal(e, request)

        def render():
            with request.app.state.sessions() as session:
                return _task_page(request, session, user, assignment_id, message, status_code,
                                  form={"figures": form.figures, "note": form.note} if form else {})
        return await run_in_threadpool(render)
    return back(f"/console/policy-tasks/{assignment_id}",
                flash=translator(request)("Evidence submitted: you will hear when it has been reviewed."))
