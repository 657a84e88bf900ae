"""Processes whose steps keep failing or failed for good (HQ and admin): the list, with the error,
and closing an entry once someone has dealt with it."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dealerflow.core.errors import NotFound
from dealerflow.models import User
from dealerflow.shared import failures

from api.deps import SessionDep, require_role

router = APIRouter(prefix="/api/v1/failures", tags=["failures"])
Watcher = Annotated[User, require_role("hq", "admin")]


@router.get("")
def list_failures(session: SessionDep, _: Watcher, include_resolved: bool = False,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    """Failing (still retried, N attempts and more) and failed (for good) steps, newest first."""
    return [failures.as_dict(f) for f in failures.listing(session, include_resolved=include_resolved, limit=limit)]


@router.post("/{failure_id}/close")
def close_failure(failure_id: int, session: SessionDep, user: Watcher):
    """Someone dealt with it: it leaves the list (kept as resolved)."""
    row = failures.close(session, failure_id, actor=user.username)
    if row is None:
        raise NotFound("no such failure")
    session.commit()
    return failures.as_dict(row)
