"""Console page of failing processes (HQ and admin): the same list as the JSON route."""
from __future__ import annotations

from fastapi import APIRouter, Request

from dealerflow.shared import failures

from api.deps import SessionDep
from api.pages import back, translator, ConsoleUser, page, require

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/failures")
def failures_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "hq", "admin")
    return page(request, "failures.html", user, failures=failures.listing(session))


@router.post("/failures/{failure_id}/close")
def close_failure(failure_id: int, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "hq", "admin")
    failures.close(session, failure_id, actor=user.username)
    session.commit()
    return back("/console/failures", flash=translator(request)("Failure closed."))
