"""Dependencies: database session, Temporal client, the caller and their role."""
from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from temporalio.client import Client

from dealerflow.core.errors import Forbidden
from dealerflow.core.config import Settings
from dealerflow.models import User
from dealerflow.core.security import read_token
from dealerflow.shared.logins import Throttle, token_user

from api.security import AUTH_COOKIE, check_cookie_csrf

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
COOKIE = AUTH_COOKIE


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_throttle(request: Request) -> Throttle:
    s = request.app.state.settings
    return Throttle(per_account=s.login_failures_per_account, per_address=s.login_failures_per_address,
                    window_minutes=s.login_window_minutes)


def client_address(request: Request) -> str:
    """The address login throttling counts: the peer, or what a trusted proxy forwarded (uvicorn's
    --forwarded-allow-ips rewrites the peer)."""
    return request.client.host if request.client else "unknown"


def user_from_token(request: Request, token: str | None) -> User | None:
    """The caller, loaded in a session of its own that is closed at once: a request that then
    waits on Temporal holds no database connection meanwhile. The token's signature, expiry and
    claims are checked, then, in one query, that it was not revoked by a logout."""
    claims = read_token(token, secret=request.app.state.settings.secret_key) if token else None
    if not claims:
        return None
    with request.app.state.sessions() as session:
        user = token_user(session, claims["sub"], claims["jti"])
    # A role change invalidates tokens issued for the old role.
    if user is None or user.role != claims.get("role"):
        return None
    request.state.token_claims = claims  # for logout
    return user


def request_token(request: Request, bearer: str | None) -> str | None:
    """The bearer token, else the console's cookie."""
    return bearer or request.cookies.get(COOKIE)


def get_current_user(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> User:
    user = user_from_token(request, request_token(request, token))
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
    if not token:  # authenticated by the console's cookie: a browser, so unsafe calls prove their origin
        check_cookie_csrf(request)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: str):
    async def check(user: CurrentUser) -> User:  # pure: async spares a thread-pool hop per request
        if user.role not in roles:
            raise Forbidden(f"requires role: {' or '.join(roles)}")
        return user
    return Depends(check)


AdminUser = Annotated[User, require_role("admin")]
DealerUser = Annotated[User, require_role("dealer")]
