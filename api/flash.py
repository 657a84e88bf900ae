"""One-shot messages after an action ("Statement confirmed."): the redirect that follows a form
carries the message in a short-lived cookie signed with the app's secret, and the next console
page shows it once and drops the cookie. A cookie that is altered, forged or stale shows nothing."""
from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import json
import time

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "dealerflow_flash"
MAX_AGE = 120  # seconds: long enough for the redirect, too short to turn up on a later visit
KINDS = ("ok", "warn")

# The secret of the app serving the current request (set by FlashSecret): `back()` signs with it.
_secret: contextvars.ContextVar[str] = contextvars.ContextVar("flash_secret", default="")
_secure: contextvars.ContextVar[bool] = contextvars.ContextVar("flash_secure", default=False)


class FlashSecret:
    """ASGI middleware: makes the app's secret known to the redirects of its handlers."""

    def __init__(self, app, secret: str, secure: bool = False):
        self.app, self.secret, self.secure = app, secret, secure

    async def __call__(self, scope, receive, send):
        token, secure = _secret.set(self.secret), _secure.set(self.secure)
        try:
            await self.app(scope, receive, send)
        finally:
            _secret.reset(token)
            _secure.reset(secure)


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), f"flash:{payload}".encode(), hashlib.sha256).hexdigest()[:40]


def seal(message: str, kind: str = "ok", *, secret: str | None = None, now: float | None = None) -> str:
    body = json.dumps({"m": message[:500], "k": kind if kind in KINDS else "ok",
                       "t": int(now if now is not None else time.time())}, ensure_ascii=False)
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_sign(secret if secret is not None else _secret.get(), payload)}"


def unseal(value: str, secret: str, *, now: float | None = None) -> dict | None:
    """The message of a cookie: {"message", "kind"}, or None when it is not ours or too old."""
    payload, _, signature = (value or "").partition(".")
    if not payload or not secret or not hmac.compare_digest(signature, _sign(secret, payload)):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        age = (now if now is not None else time.time()) - int(body["t"])
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= age <= MAX_AGE:
        return None
    return {"message": str(body["m"]), "kind": body.get("k", "ok")}


def set_flash(response: Response, message: str, kind: str = "ok") -> None:
    response.set_cookie(COOKIE, seal(message, kind), max_age=MAX_AGE, httponly=True, samesite="lax",
                        path="/console", secure=_secure.get())


def take_flash(request: Request, response: Response) -> None:
    """Called with a page being answered: drops the cookie (shown once)."""
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path="/console")


def read_flash(request: Request) -> dict | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    settings = getattr(request.app.state, "settings", None)
    return unseal(value, getattr(settings, "secret_key", "") or _secret.get())
