"""Console pages of the policy rollout. Dealers read, acknowledge and ask about their policies and do
their policy tasks; HQ previews, publishes, withdraws, answers and watches the live figures. The
handlers are thin: they call the same functions as the JSON routes in api/routes/."""
from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from dealerflow.core.errors import DomainError
from dealerflow.core.errors import NotFound
from dealerflow.models import Policy
from dealerflow.policies import rollout as policies, tasks as policy_tasks

from api.policies.temporal import publish_policy
from api.pages import back, refusal, require, ConsoleUser, page, templates
from api.deps import SessionDep, TemporalDep
from api.policies import routes as policy_api
from api.policies import task_routes as task_api
from api.policies.views import assignment_read

router = APIRouter(prefix="/console", include_in_schema=False)
STAFF = ("hq", "admin")
ACTIVE = ("pilot", "awaiting_decision", "rolling_out", "active")  # a rollout that can still be withdrawn


# --- policies ----------------------------------------------------------------------------------

@router.get("/policies")
def policy_list(request: Request, session: SessionDep, user: ConsoleUser):
    return page(request, "policies.html", user, policies=policy_api.policy_list(session, user))


def _policy_page(request, session, user, policy_id: str, error: str | None = None, status_code: int = 200,
                 publishing: int | None = None):
    if user.role == "dealer":
        content = policy_api.dealer_policy(session, user, policy_id)  # 404 unless delivered to this dealer
        mine, specs = policy_tasks.assignments_for(session, user.dealer_id, policy_id=policy_id), {}
        asked = [q for q in policy_api.questions_for(session, user, policy_id) if not q["in_faq"]]  # FAQ is in content
        return page(request, "policy.html", user, status_code, policy=content, error=error, questions=asked,
                    assignments=[assignment_read(session, a, specs=specs) for a in mine])
    if user.role not in STAFF:
        raise NotFound("policy not found")
    content = policy_api.staff_policy(session, policy_id)
    figures = policy_api.policy_status(session, policy_id) if content["status"] != "draft" else None
    deployed = policies.policy_ruleset(session, policy_id).version
    # Published, but the rollout has not written the policy yet: say so, and offer no second publish.
    publishing = publishing if publishing and content["status"] == "draft" else None
    if publishing:
        content = {**content, "status": "publishing"}
    # What a publish would do: reach the targets of a draft, or amend with a newer deployed version.
    publishable = not publishing and deployed > (figures["version"] if figures else 0)
    return page(request, "policy_hq.html", user, status_code, policy=content, figures=figures, error=error,
                deployed_version=deployed, preview=policies.preview(session, policy_id) if publishable else None,
                questions=policy_api.questions_for(session, user, policy_id), may_act=user.role == "hq",
                may_publish=publishable, may_withdraw=bool(figures) and figures["status"] in ACTIVE,
                publishing=publishing)


async def _policy_again(request, user, policy_id: str, e: Exception):
    """The policy page again with the error, in a session of its own (the caller awaited Temporal)."""
    message, status_code = refusal(e)

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
                                      {"figures": policy_api.policy_status(session, policy_id)})


@router.post("/policies/{policy_id}/acknowledge")
def acknowledge(policy_id: str, session: SessionDep, user: ConsoleUser):
    require(user, "dealer")
    policy_api.acknowledge_policy(session, user, policy_id)
    return back(f"/console/policies/{policy_id}")


@router.post("/policies/{policy_id}/questions")
def ask(policy_id: str, request: Request, session: SessionDep, user: ConsoleUser,
        question: Annotated[str, Form()] = ""):
    require(user, "dealer")
    try:
        body = policy_api.QuestionCreate(question=question)
    except ValidationError as e:
        return _policy_page(request, session, user, policy_id, refusal(e)[0], 422)
    policy_api.ask_question(session, user, policy_id, body)
    return back(f"/console/policies/{policy_id}")


@router.post("/policies/{policy_id}/questions/{question_id}/answer")
def answer(policy_id: str, question_id: int, request: Request, session: SessionDep, user: ConsoleUser,
           answer: Annotated[str, Form()] = "", publish_to_faq: Annotated[bool, Form()] = False):
    require(user, "hq")
    try:
        body = policy_api.AnswerCreate(answer=answer, publish_to_faq=publish_to_faq)
    except ValidationError as e:
        return _policy_page(request, session, user, policy_id, refusal(e)[0], 422)
    policy_api.answer_question(session, user, policy_id, question_id, body)
    return back(f"/console/policies/{policy_id}")


@router.post("/policies/{policy_id}/publish")
async def publish(policy_id: str, request: Request, client: TemporalDep, user: ConsoleUser):
    require(user, "hq")
    try:
        published = await publish_policy(client=client, task_queue=request.app.state.settings.task_queue,
                                         sessions=request.app.state.sessions, policy_id=policy_id,
                                         actor=user.username)
    except DomainError as e:
        return await _policy_again(request, user, policy_id, e)
    if published.action == "started" and not await _rollout_wrote(request.app.state.sessions, policy_id):
        return RedirectResponse(quote(f"/console/policies/{policy_id}") + f"?publishing={published.version}", 303)
    return back(f"/console/policies/{policy_id}")


async def _rollout_wrote(sessions, policy_id: str, wait: float = 3.0) -> bool:
    """Wait a moment for the rollout to write the policy, so the page shows where it stands."""
    def written() -> bool:
        with sessions() as session:
            return session.get(Policy, policy_id) is not None

    for _ in range(int(wait / 0.1)):
        if await run_in_threadpool(written):
            return True
        await asyncio.sleep(0.1)
    return False


@router.post("/policies/{policy_id}/withdraw")
async def withdraw(policy_id: str, request: Request, client: TemporalDep, user: ConsoleUser,
                   reason: Annotated[str, Form()] = ""):
    require(user, "hq")
    try:
        body = policy_api.WithdrawBody(reason=reason)
        await policy_api.withdraw_policy(sessions=request.app.state.sessions, client=client, policy_id=policy_id,
                                         user=user, reason=body.reason)
    except (DomainError, ValidationError) as e:
        return await _policy_again(request, user, policy_id, e)
    return back(f"/console/policies/{policy_id}")


# --- policy tasks ------------------------------------------------------------------------------

@router.get("/policy-tasks")
def task_list(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "dealer")
    specs: dict = {}
    rows = [assignment_read(session, a, specs=specs) for a in policy_tasks.assignments_for(session, user.dealer_id)]
    return page(request, "policy_tasks.html", user, assignments=rows, points=policy_tasks.points(session, user.dealer_id))


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
async def submit(
    assignment_id: str, request: Request, client: TemporalDep, user: ConsoleUser,
    photo: Annotated[list[UploadFile], File()] = [],  # noqa: B006 — FastAPI copies defaults
    video: Annotated[list[UploadFile], File()] = [],  # noqa: B006
    document: Annotated[list[UploadFile], File()] = [],  # noqa: B006
    figures: Annotated[str | None, Form()] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
):
    require(user, "dealer")

    def chosen(uploads):  # a browser sends an empty, nameless part for a file input left empty
        return [u for u in uploads if u.filename]

    try:
        await task_api.submit_uploads(request=request, client=client, user=user, assignment_id=assignment_id,
                                      photo=chosen(photo), video=chosen(video), document=chosen(document),
                                      figures=figures, note=note)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        message, status_code = refusal(e)

        def render():
            with request.app.state.sessions() as session:
                return _task_page(request, session, user, assignment_id, message, status_code,
                                  form={"figures": figures, "note": note})
        return await run_in_threadpool(render)
    return back(f"/console/policy-tasks/{assignment_id}")
