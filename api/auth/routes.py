from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from dealerflow.core.security import issue_token
from dealerflow.models import User
from dealerflow.shared import logins

from api.deps import CurrentUser, SessionDep, SettingsDep, client_address, get_throttle
from api.admin.schemas import Token, UserRead
from api.errors import responses

router = APIRouter(prefix="/api/v1", tags=["auth"])


def authenticate(request: Request, session, username: str, password: str) -> User | None:
    """The user, or None for a wrong username or password (alike, in answer and in time); raises
    TooManyAttempts (429) when the account or the caller's address failed too often lately."""
    return logins.log_in(session, username, password, client_address(request), get_throttle(request))


@router.post("/auth/token", response_model=Token, responses=responses(401, 429))
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep,
          settings: SettingsDep):
    user = authenticate(request, session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=issue_token(username=user.username, role=user.role,
                                          secret=settings.secret_key, minutes=settings.token_minutes))


def revoke_current(request: Request, session) -> None:
    """Revoke the token the request was authenticated with (until it would have expired)."""
    claims = getattr(request.state, "token_claims", None)
    if claims:
        logins.revoke(session, claims["jti"], datetime.fromtimestamp(claims["exp"], timezone.utc))


@router.post("/auth/logout", status_code=204, responses=responses(401))
def logout(request: Request, _: CurrentUser, session: SessionDep):
    """End this token: every API process refuses it from now on."""
    revoke_current(request, session)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser):
    return UserRead(username=user.username, role=user.role, dealer_code=user.dealer.code if user.dealer else None)
