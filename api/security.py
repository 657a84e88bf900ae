"""What every response and every cookie-authenticated form carries: security headers, the console's
cookies, and the CSRF check.

CSRF (double submit): every console response to a browser without one sets the cookie
`dealerflow_csrf` (random; renewed at login and logout); every form of the console repeats it in the
hidden field `csrf_token` (the Jinja global `csrf_input()`), or a client sends it as the header
`X-CSRF-Token`. Every unsafe request under /console, and every unsafe API request
authenticated by the console's cookie rather than a bearer header, must send the cookie's value:
another site can make the browser send the cookie but cannot read it."""
from __future__ import annotations

import base64
import hashlib
import secrets
from http.cookies import SimpleCookie

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from dealerflow.core.config import Settings
from api.docs import DOCS_SCRIPT_HASHES
from dealerflow.core.errors import Forbidden

AUTH_COOKIE = "dealerflow_token"
CSRF_COOKIE = "dealerflow_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# The one inline style of the console (a statement's printable page, `{{ print_css }}`), allowed by its hash.
PRINT_CSS = "header, .no-print { display: none; }"
_PRINT_CSS_HASH = base64.b64encode(hashlib.sha256(PRINT_CSS.encode()).digest()).decode()
# The console needs nothing but itself: scripts and styles are static files, no inline code.
CSP = (f"default-src 'self'; script-src 'self'; style-src 'self' 'sha256-{_PRINT_CSS_HASH}'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# /docs and /redoc (api/docs.py) load Swagger UI and ReDoc from /static/docs/; Swagger UI's inline start-up
# script is allowed by its hash. Styles stay inline-capable there: ReDoc writes its styles into <style>
# elements at run time. Search runs in a blob: worker.
DOCS_CSP = (f"default-src 'self'; script-src 'self' {' '.join(DOCS_SCRIPT_HASHES)}; "
            "style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def _valid(token: str | None) -> bool:
    return bool(token) and 20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()


def set_csrf_cookie(response: Response, settings: Settings, token: str | None = None) -> str:
    """A fresh CSRF token (at login and logout), as cookie; returns it."""
    token = token or new_csrf_token()
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=settings.secure_cookies,
                        path="/")
    return token


def set_auth_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(AUTH_COOKIE, token, httponly=True, samesite="lax", secure=settings.secure_cookies,
                        max_age=settings.token_minutes * 60, path="/")


def delete_auth_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(AUTH_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")


def csrf_input(request: Request) -> Markup:
    """The hidden form field carrying this request's CSRF token."""
    token = request.scope.get("state", {}).get("csrf_token", "")
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


def _refuse() -> Forbidden:
    return Forbidden("the form is not from this site or has gone stale: reload the page and send it again",
                     field=CSRF_FIELD)


def _matches(request: Request, sent) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return (isinstance(sent, str) and _valid(cookie)
            and secrets.compare_digest(cookie.encode(), sent.encode()))


async def console_csrf(request: Request) -> None:
    """The app's one CSRF check of forms: every unsafe request under /console sends the token in the
    form field or the header. (The form is parsed once: FastAPI keeps it on the request.)"""
    if request.method in SAFE_METHODS or not request.url.path.startswith("/console"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    if not _matches(request, sent):
        raise _refuse()


def check_cookie_csrf(request: Request) -> None:
    """For an API request authenticated by the console's cookie: an unsafe one sends the header."""
    if request.method not in SAFE_METHODS and not _matches(request, request.headers.get(CSRF_HEADER)):
        raise _refuse()


class SecurityHeaders:
    """ASGI middleware: security headers on every response; a CSRF cookie for a browser without one
    (its value put on the request's state for the templates)."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cookie = SimpleCookie()
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header: treat as none
                    pass
        existing = cookie[CSRF_COOKIE].value if CSRF_COOKIE in cookie else None
        token = existing if _valid(existing) else new_csrf_token()
        scope.setdefault("state", {})["csrf_token"] = token
        docs = scope["path"] in DOCS_PATHS or scope["path"].startswith("/docs/")
        headers = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                   (b"referrer-policy", b"same-origin"),
                   (b"content-security-policy", (DOCS_CSP if docs else CSP).encode())]
        if self.settings.secure_cookies:
            headers.append((b"strict-transport-security", b"max-age=31536000"))
        if token != existing and scope["path"].startswith("/console"):
            secure = "; Secure" if self.settings.secure_cookies else ""
            headers.append((b"set-cookie",
                            f"{CSRF_COOKIE}={token}; HttpOnly; Path=/; SameSite=Lax{secure}".encode()))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                set_here = any(k.lower() == b"set-cookie" and v.startswith(CSRF_COOKIE.encode() + b"=")
                               for k, v in message.get("headers", ()))
                extra = [(k, v) for k, v in headers
                         if (k == b"set-cookie" and not set_here) or (k != b"set-cookie" and k not in present)]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
