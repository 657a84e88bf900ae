"""Console pages: a person's notification addresses, preferences and quiet hours (their own; an
admin's for anyone), and the dead letters an admin resends. Phone first."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from sqlalchemy import select

from dealerflow.core.errors import DomainError, Invalid
from dealerflow.models import PERSONAL_CHANNELS, NotificationPreference, User
from dealerflow.shared import notifications, recipients

from api.deps import SessionDep
from api.notifications.routes import user_named
from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.paging import paging

router = APIRouter(prefix="/console", include_in_schema=False)
CHOICES = {"": None, "on": True, "off": False}


def _kinds(session, user: User) -> list[str]:
    """The kinds on the page: the usual ones and any the person has a preference for."""
    own = session.scalars(select(NotificationPreference.kind).where(NotificationPreference.user_id == user.id)).all()
    return list(dict.fromkeys([*recipients.KINDS, *own]))


def _page(request: Request, session, user: User, target: User, error: str | None = None, status_code: int = 200,
          form: dict | None = None):
    profile = recipients.profile(session, target)
    choices = {(p["kind"], p["channel"]): "on" if p["enabled"] else "off" for p in profile["preferences"]}
    action = ("/console/notifications/preferences" if target.id == user.id
              else f"/console/notifications/preferences/{target.username}")
    return page(request, "notification_preferences.html", user, status_code, profile=profile, target=target,
                kinds=_kinds(session, target), channels=PERSONAL_CHANNELS, choices=choices, error=error,
                form=form or {}, action=action, urgent=sorted(recipients.URGENT_KINDS))


async def _save(request: Request, session, user: User, target: User):
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    prefs = []
    try:
        for key, value in fields.items():
            if not key.startswith("pref."):
                continue
            _, kind, channel = (key.split(".", 2) + ["", ""])[:3]
            if value not in CHOICES:
                raise Invalid("choose default, on or off", field=key)
            if CHOICES[value] is not None:
                prefs.append({"kind": kind, "channel": channel, "enabled": CHOICES[value]})
        recipients.save(session, target, addresses={c: fields.get(c) for c in PERSONAL_CHANNELS},
                        preferences=prefs, quiet_start=fields.get("quiet_start") or None,
                        quiet_end=fields.get("quiet_end") or None, actor=user.username)
        session.commit()
    except DomainError as e:
        session.rollback()
        message, status_code = refusal(e, request)
        return _page(request, session, user, target, message, status_code, fields)
    _ = translator(request)
    path = ("/console/notifications/preferences" if target.id == user.id
            else f"/console/notifications/preferences/{target.username}")
    return back(path, flash=_("Notification preferences saved."))


@router.get("/notifications/preferences")
def my_preferences(request: Request, session: SessionDep, user: ConsoleUser):
    return _page(request, session, user, user)


@router.post("/notifications/preferences")
async def save_my_preferences(request: Request, session: SessionDep, user: ConsoleUser):
    return await _save(request, session, user, user)


@router.get("/notifications/preferences/{username}")
def preferences_of(username: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "admin")
    return _page(request, session, user, user_named(session, username))


@router.post("/notifications/preferences/{username}")
async def save_preferences_of(username: str, request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "admin")
    return await _save(request, session, user, user_named(session, username))


@router.get("/notifications/dead-letters")
def dead_letters_page(request: Request, session: SessionDep, user: ConsoleUser, channel: str = ""):
    """Deliveries that gave up, with their attempts; tick some (or all) and send them again."""
    require(user, "admin")
    channel = channel if channel in ("webhook", "wecom", "dingtalk", *PERSONAL_CHANNELS) else ""
    total, _ = notifications.dead_letters(session, limit=1, channel=channel or None)
    pager = paging(request, total, channel=channel)
    _, rows = notifications.dead_letters(session, limit=pager.limit, offset=pager.offset, channel=channel or None)
    history = notifications.attempts_of(session, [d["id"] for d in rows])
    return page(request, "dead_letters.html", user, rows=rows, history=history, pager=pager, channel=channel,
                counts=notifications.delivery_counts(session))


@router.post("/notifications/dead-letters/resend")
async def resend(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, "admin")
    form = await request.form()
    _ = translator(request)
    try:
        ids = [int(v) for v in form.getlist("id") if str(v).isdigit() and len(str(v)) < 19]
        n = notifications.resend(session, ids, now=datetime.now(timezone.utc))
        session.commit()
    except DomainError as e:
        session.rollback()
        message, _status = refusal(e, request)
        return back("/console/notifications/dead-letters", flash=message, kind="error")
    return back("/console/notifications/dead-letters", flash=_("%(n)s delivery(ies) will be sent again.", n=n))

