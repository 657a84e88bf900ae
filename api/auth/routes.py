from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from dealerflow.models import User
from dealerflow.core.security import issue_token, verify_password

from api.errors import responses
from api.deps import CurrentUser, SessionDep, SettingsDep
from api.admin.schemas import Token, UserRead

router = APIRouter(prefix="/api/v1", tags=["auth"])


def authenticate(session, username: str, password: str) -> User | None:
    user = session.scalars(select(User).where(User.username == username)).first()
    return user if user is not None and verify_password(password, user.password_hash) else None


@router.post("/auth/token", response_model=Token, responses=responses(401))
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep):
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=issue_token(username=user.username, role=user.role,
                                          secret=settings.secret_key, minutes=settings.token_minutes))


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser):
    return UserRead(username=user.username, role=user.role, dealer_code=user.dealer.code if user.dealer else None)
