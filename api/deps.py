"""Dependencies: database session, Temporal client, the caller and their role."""
from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client

from dealerflow.core.errors import Forbidden
from dealerflow.core.config import Settings
from dealerflow.models import User
from dealerflow.core.security import read_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
COOKIE = "dealerflow_token"


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


def user_from_token(request: Request, token: str | None) -> User | None:
    """The caller, loaded in a session of its own that is closed at once: a request that then
    waits on Temporal holds no database connection meanwhile."""
    claims = read_token(token, secret=request.app.state.settings.secret_key) if token else None
    if not claims:
        return None
    with request.app.state.sessions() as session:
        user = session.scalars(select(User).where(User.username == claims.get("sub"))).first()
    # A role change invalidates tokens issued for the old role.
    return user if user is not None and user.role == claims.get("role") else None


def get_current_user(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> User:
    user = user_from_token(request, token or request.cookies.get(COOKIE))
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated",
                            headers={"WWW-Authenticate": "Bearer"})
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
