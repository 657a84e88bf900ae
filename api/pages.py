"""What every console page shares: the templates, the signed-in user, the layout's helpers, and login, logout and home."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Callable
from urllib.parse import quote, urlsplit

from pydantic import ValidationError

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from api import i18n
from api import flash as _flash
from api.labels import FIELD_LABELS, LABELS
from api.tasks.titles import task_title
from policies_dsl.texts import text_in
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


def _when_filter(locale: str):
    def when(value, fmt: str | None = None, zone: bool = False) -> str:
        """A time in Beijing time; `zone=True` labels it (deadlines). A format without a time of day
        (the old `when("%Y-%m-%d")`) shows the day alone."""
        if isinstance(value, jinja2.Undefined):
            return ""
        if fmt is not None and "%H" not in fmt:
            return i18n.day(value, locale)
        return i18n.when(value, locale, zone=zone)
    return when


def _figure(format_: Callable[[object], str]) -> Callable[[object], str]:
    """A filter of a figure: nothing for none (or an undefined value), the value as it is when it is
    not a number (a template must not fail on one odd figure)."""
    def apply(value) -> str:
        if value is None or value == "" or isinstance(value, jinja2.Undefined):
            return ""
        try:
            return format_(value)
        except (ArithmeticError, ValueError, TypeError):
            return str(value)
    return apply


def _filters(locale: str) -> dict[str, Callable]:
    catalog = i18n.translations(locale)
    return {"label": lambda v: catalog.gettext(LABELS[v]) if isinstance(v, str) and v in LABELS else ("" if v is None else v),
            "money": _figure(lambda v: i18n.money(v, locale)), "when": _when_filter(locale),
            "day": lambda v: "" if isinstance(v, jinja2.Undefined) else i18n.day(v, locale),
            "pct": _figure(lambda v: i18n.percent(v, locale)), "number": _figure(lambda v: i18n.number(v, locale)),
            "capitals": _figure(i18n.capitals),
            "field_label": lambda v: catalog.gettext(FIELD_LABELS[v]) if v in FIELD_LABELS else v,
            "task_title": lambda task: task_title(task, catalog.gettext, locale),
            # a rule file's text, plain or in both languages ({zh: …, en: …}): in the page's language
            "bilingual": lambda v: "" if v is None or isinstance(v, jinja2.Undefined) else text_in(v, locale)}


class _Everywhere(dict):
    """`templates.env.globals` and `.filters`: what is set here is set in the environment of every
    locale (reading gives the default locale's)."""

    def __init__(self, targets: list[dict]):
        super().__init__(targets[0])
        self._targets = targets

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        for t in self._targets:
            t[key] = value

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, value=None):
        if key not in self:
            self[key] = value
        return self[key]


class _EveryEnvironment:
    def __init__(self, envs: list[jinja2.Environment]):
        self._envs = envs
        self.globals = _Everywhere([e.globals for e in envs])
        self.filters = _Everywhere([e.filters for e in envs])

    def __getattr__(self, name):  # anything else: the default locale's environment
        return getattr(self._envs[0], name)


class LocalisedTemplates:
    """The console's templates: one Jinja2 environment per locale, each with its own gettext catalog
    installed (`{{ _("Orders") }}`, `{% trans %}`), and the local formats as filters: `money`, `when`,
    `day`, `pct`, `number`, `capitals`. `TemplateResponse` renders in the request's locale, so
    concurrent requests never mix languages."""

    def __init__(self, directory: Path):
        self.by_locale: dict[str, Jinja2Templates] = {}
        for locale in i18n.LOCALES:
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(directory), autoescape=True,
                                     extensions=["jinja2.ext.i18n"])
            env.install_gettext_translations(i18n.translations(locale), newstyle=True)
            env.filters.update(_filters(locale))
            env.globals.update(locale=locale, html_lang=i18n.html_lang(locale),
                               other_locale=next(x for x in i18n.LOCALES if x != locale))
            self.by_locale[locale] = Jinja2Templates(env=env)
        self.env = _EveryEnvironment([t.env for t in self.by_locale.values()])

    def for_request(self, request: Request) -> Jinja2Templates:
        return self.by_locale[i18n.locale_of(request)]

    def get_template(self, name: str, request: Request | None = None):
        return (self.for_request(request) if request else self.by_locale[i18n.LOCALES[0]]).get_template(name)

    def TemplateResponse(self, request: Request, name: str, context: dict | None = None, status_code: int = 200,
                         **kwargs) -> HTMLResponse:
        """The one way a console page or fragment is rendered: in the request's language."""
        locale = i18n.locale_of(request)
        response = self.by_locale[locale].TemplateResponse(request, name, context or {}, status_code=status_code,
                                                           **kwargs)
        response.headers["Content-Language"] = i18n.html_lang(locale)
        response.headers["Vary"] = "Accept-Language, Cookie"
        return response


templates = LocalisedTemplates(HERE / "templates")


router = APIRouter(prefix="/console", include_in_schema=False)


# `{{ csrf_input() }}` in every form that posts: the hidden field the CSRF check reads (api/security.py).
templates.env.globals["csrf_input"] = pass_context(lambda context: csrf_input(context["request"]))
templates.env.globals.setdefault("_", lambda text, **values: text % values)  # until the locales' catalogs are installed
templates.env.globals["print_css"] = PRINT_CSS  # inline, allowed by its hash in the Content-Security-Policy


def console_user(request: Request) -> User:
    user = user_from_token(request, request.cookies.get(COOKIE))
    if user is None:
        raise HTTPException(303, headers={"Location": f"/console/login?next={request.url.path}"})
    return user


ConsoleUser = Annotated[User, Depends(console_user)]


def page(request: Request, name: str, user: User | None, status_code: int = 200, **context) -> HTMLResponse:
    """A console page; the message of the action before it (`back(path, flash=…)`) is shown once, and
    the header counts the user's unread notifications."""
    context.setdefault("flash", _flash.read_flash(request))
    if user is not None and "unread" not in context:
        context["unread"] = _unread(request, user)
    response = templates.TemplateResponse(request, name, {"user": user, **context}, status_code=status_code)
    _flash.take_flash(request, response)
    return response


def _unread(request: Request, user: User) -> int:
    """The user's unread notifications, for the badge of the header (0 when it cannot be counted)."""
    from api.tasks.notifications import unread_count  # the notifications' module imports this one
    sessions = getattr(request.app.state, "sessions", None)
    if sessions is None:
        return 0
    try:
        with sessions() as session:
            return unread_count(session, user)
    except Exception:  # the header must not fail a page
        return 0


def translator(request: Request) -> Callable[..., str]:
    """`_ = translator(request)`, then `_("Wrong username or password.")` or `_("… %(n)s", n=3)`: a
    message of a page in the request's language (extracted with the templates' texts)."""
    catalog = i18n.translations(i18n.locale_of(request))

    def _(message: str, **values) -> str:
        text = catalog.gettext(message)
        return text % values if values else text
    return _


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


# Messages of the domain and of the API that console pages show, in English as the API answers them:
# shown translated on a page when the whole message is one of these.
KNOWN_MESSAGES = frozenset({
    N_("order not found"), N_("task not found"), N_("statement not found"), N_("settlement run not found"),
    N_("policy not found"), N_("policy not published"), N_("dealer not found"), N_("evidence not found"),
    N_("question not found"), N_("case not found"), N_("parcel not found"), N_("notification not found"), N_("no such failure"), N_("no tiering run for that month"),
    N_("only dealers place orders"), N_("task is already completed"), N_("task is already cancelled"),
    N_("the statement is already confirmed"), N_("the statement is already disputed"),
    N_("the statement is already superseded"), N_("this statement has been revised; answer the current revision"),
    N_("the rollout has already ended"),
    N_("the form is not from this site or has gone stale: reload the page and send it again"),
    N_("Not Found"), N_("Method Not Allowed"), N_("an unexpected error occurred; it has been logged"),
})


def shown(request: Request, message: str) -> str:
    """A message of the service as a console page shows it: translated where it is a fixed text."""
    _ = translator(request)
    if message in KNOWN_MESSAGES:
        return _(message)
    if message.startswith("requires role: "):
        return _("requires the role %(roles)s", roles=message.removeprefix("requires role: "))
    return message


def require(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"requires role: {' or '.join(roles)}")


def back(path: str, flash: str | None = None, kind: str = "ok") -> RedirectResponse:
    """After a form: see the page again (303, so a reload does not post twice); `flash`: a message
    the next page shows once ("Statement confirmed.")."""
    path, _, query = path.partition("?")
    response = RedirectResponse(quote(path) + (f"?{query}" if query else ""), status_code=303)
    if flash:
        _flash.set_flash(response, flash, kind)
    return response


def label_of(request: Request, value: str | None) -> str:
    """A fixed domain value (a status, a role, an outcome) as the `label` filter shows it."""
    if not value:
        return ""
    return translator(request)(LABELS[value]) if value in LABELS else value


def refusal(e: Exception, request: Request | None = None) -> tuple[str, int]:
    """What a page shows when the service refuses a form: the message and the status to answer with
    (translated where it is a fixed text, given the request)."""
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()), 422
    if isinstance(e, DomainError):
        places = [x["message"] for x in e.errors]
        message = "; ".join(places) if len(places) > 1 else e.message
        return (shown(request, message) if request is not None else message), STATUS[e.kind]
    return str(e), 422


def error_page(request: Request, status_code: int, message: str, headers: dict | None = None) -> HTMLResponse:
    """A refusal under /console for a browser (it asked for HTML): a page in its language."""
    user = None
    try:
        user = user_from_token(request, request.cookies.get(COOKIE))
    except Exception:  # the page of an error must not fail on the user's session
        user = None
    response = page(request, "error.html", user, status_code, message=shown(request, message), status=status_code)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _wait(request: Request, seconds: int) -> str:
    _ = translator(request)
    return _("%(n)s s", n=seconds) if seconds < 60 else _("%(n)s min", n=-(-seconds // 60))


@router.get("/language")
def language(request: Request, lang: str = "", next: str = "/console"):
    """The language switch of the header: the choice is kept in a cookie for a year, and the browser is
    sent back to the page (with its query, taken from the Referer of this site: the page's link does
    not repeat it)."""
    target = next if next.startswith("/console") and "//" not in next else "/console"
    came_from = urlsplit(request.headers.get("referer", ""))
    if came_from.netloc == request.url.netloc and came_from.path == target and came_from.query:
        target = f"{target}?{came_from.query}"
    response = RedirectResponse(target, status_code=303)
    if lang in i18n.LOCALES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax", path="/",
                            secure=request.app.state.settings.secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/console"):
    return page(request, "login.html", None, next=next if next.startswith("/console") else "/console")


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/console"):
    _ = translator(request)
    try:
        user = authenticate(request, session, username, password)
    except TooManyAttempts as e:
        response = page(request, "login.html", None, 429, next=next,
                        error=_("Too many failed logins: try again in %(wait)s.", wait=_wait(request, e.retry_after)))
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    if user is None:
        return page(request, "login.html", None, 401, next=next, error=_("Wrong username or password."))
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
    """A dealer starts at its orders, HQ and admins at the dashboard, everyone else at the inbox."""
    start = {"dealer": "/console/orders", "hq": "/console/dashboard", "admin": "/console/dashboard"}
    return RedirectResponse(start.get(user.role, "/console/tasks"), status_code=303)
