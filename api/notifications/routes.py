"""A person's notification addresses, preferences and quiet hours (their own; an admin's for anyone),
and the dead letters: deliveries that gave up, which an admin reads and resends."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from dealerflow.core.errors import NotFound
from dealerflow.models import User
from dealerflow.shared import notifications, recipients

from api.deps import CurrentUser, SessionDep, require_role
from api.notifications.schemas import DeadLetters, PreferencesRead, PreferencesUpdate, Resend, Resent

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


def user_named(session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound("user not found")
    return user


def save(session, user: User, body: PreferencesUpdate, actor: str) -> dict:
    return recipients.save(session, user, addresses=body.addresses.model_dump(),
                           preferences=[p.model_dump() for p in body.preferences],
                           quiet_start=body.quiet_start, quiet_end=body.quiet_end, actor=actor)


@router.get("/preferences", response_model=PreferencesRead)
def my_preferences(session: SessionDep, user: CurrentUser):
    """The caller's addresses per channel, which kinds reach it where, and its quiet hours."""
    return recipients.profile(session, user)


@router.put("/preferences", response_model=PreferencesRead)
def set_my_preferences(body: PreferencesUpdate, session: SessionDep, user: CurrentUser):
    """Replace the caller's addresses (an SMS mobile number, a WeCom userid), preferences and quiet hours."""
    out = save(session, user, body, user.username)
    session.commit()
    return out


@router.get("/preferences/{username}", response_model=PreferencesRead, dependencies=[require_role("admin")])
def preferences_of(username: str, session: SessionDep):
    return recipients.profile(session, user_named(session, username))


@router.put("/preferences/{username}", response_model=PreferencesRead, dependencies=[require_role("admin")])
def set_preferences_of(username: str, body: PreferencesUpdate, session: SessionDep, user: CurrentUser):
    out = save(session, user_named(session, username), body, user.username)
    session.commit()
    return out


@router.get("/dead-letters", response_model=DeadLetters, dependencies=[require_role("admin")])
def dead_letters(session: SessionDep, channel: Annotated[str | None, Query(max_length=16)] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0, le=10**6)] = 0):
    """Deliveries that gave up (after the last retry, or at once on a data error), the latest first,
    each with every attempt's time, outcome and error."""
    total, items = notifications.dead_letters(session, limit=limit, offset=offset, channel=channel)
    history = notifications.attempts_of(session, [d["id"] for d in items])
    return {"total": total, "items": [d | {"history": history[d["id"]]} for d in items]}


@router.post("/dead-letters/resend", response_model=Resent, dependencies=[require_role("admin")])
def resend(body: Resend, session: SessionDep):
    """Send dead deliveries again (one or many): pending at once, with a fresh count of attempts."""
    n = notifications.resend(session, body.ids, now=datetime.now(timezone.utc))
    session.commit()
    return {"resent": n}


