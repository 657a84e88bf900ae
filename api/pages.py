"""What every console page shares: the templates, the signed-in user, the layout's helpers, and login, logout and home."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from pydantic import ValidationError

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from api.errors import STATUS
from dealerflow.core.errors import DomainError, Forbidden, TooManyAttempts
from dealerflow.models import User
from dealerflow.core.security import issue_token, read_token
from dealerflow.shared import logins
from api.deps import COOKIE, SessionDep, SettingsDep, user_from_token
from api.auth.routes import authenticate
from api.security import PRINT_CSS, csrf_input, delete_auth_cookie, set_auth_cookie, set_csrf_cookie


HERE = Path(__file__).parent


STATIC_DIR = HERE / "static"


templates = Jinja2Templates(directory=HERE / "templates")


router = APIRouter(prefix="/console", include_in_schema=False)


def _when(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A datetime or an ISO string (read models carry both) as the console shows times; "" for none."""
    if not value:
        return ""
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).strftime(fmt)


def _pct(rate) -> str:
    return f"{Decimal(str(rate)) * 100:.1f}%"  # rates travel as decimal strings such as "0.5000"


templates.env.filters.update(when=_when, pct=_pct)
templates.env.add_extension("jinja2.ext.i18n"); templates.env.install_null_translations(newstyle=True)  # TEMPORARY: `_` and {% trans %} as identity until the locales' gettext is installed
# `{{ csrf_input() }}` in every form that posts: the hidden field the CSRF check reads (api/security.py).
templates.env.globals["csrf_input"] = pass_context(lambda context: csrf_input(context["request"]))
templates.env.globals["print_css"] = PRINT_CSS  # inline, allowed by its hash in the Content-Security-Policy


def console_user(request: Request) -> User:
    user = user_from_token(request, request.cookies.get(COOKIE))
    if user is None:
        raise HTTPException(303, headers={"Location": f"/console/login?next={request.url.path}"})
    return user


ConsoleUser = Annotated[User, Depends(console_user)]


def page(request: Request, name: str, user: User | None, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"user": user, **context}, status_code=status_code)



def require(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"requires role: {' or '.join(roles)}")


def back(path: str) -> RedirectResponse:
    """After a form: see the page again (303, so a reload does not post twice)."""
    return RedirectResponse(quote(path), status_code=303)


def refusal(e: Exception) -> tuple[str, int]:
    """What a page shows when the service refuses a form: the message and the status to answer with."""
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()), 422
    if isinstance(e, DomainError):
        places = [x["message"] for x in e.errors]
        return ("; ".join(places) if len(places) > 1 else e.message), STATUS[e.kind]
    return str(e), 422


@router.get("/login")
def login_form(request: Request, next: str = "/console"):
    return page(request, "login.html", None, next=next if next.startswith("/console") else "/console")


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/console"):
    try:
        user = authenticate(request, session, username, password)
    except TooManyAttempts as e:
        response = page(request, "login.html", None, 429, next=next, error=f"{e.message[:1].upper()}{e.message[1:]}.")
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    if user is None:
        return page(request, "login.html", None, 401, next=next, error="Wrong username or password.")
    token = issue_token(username=user.username, role=user.role, secret=settings.secret_key,
                        minutes=settings.token_minutes)
    response = RedirectResponse(next if next.startswith("/console") else "/console", status_code=303)
    set_auth_cookie(response, settings, token)
    set_csrf_cookie(response, settings)  # a new session, a new CSRF token
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep):
    """End the session: the cookie is dropped and its token revoked, so a copy of it no longer works."""
    claims = read_token(request.cookies.get(COOKIE) or "", secret=settings.secret_key)
    if claims:
        logins.revoke(session, claims["jti"], datetime.fromtimestamp(claims["exp"], timezone.utc))
    response = RedirectResponse("/console/login", status_code=303)
    delete_auth_cookie(response, settings)
    set_csrf_cookie(response, settings)
    return response


@router.get("")
def home(user: ConsoleUser):
    return RedirectResponse("/console/orders" if user.role == "dealer" else "/console/tasks", status_code=303)
