"""Password logins, throttled, and the tokens ended by logout. Both live in PostgreSQL, so any
number of API processes share the counts and the revocations.

Throttling: every attempt is written first (as a failure) and counted, per account name as typed
and per client address, over a sliding window; above the limit the attempt is refused without a
password check and its row removed again, so hammering a locked account does not extend the lock.
Concurrent attempts cannot slip past the count: each sees the others' rows. A successful login
deletes its account's rows (not its address's)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import TooManyAttempts
from dealerflow.core.security import verify_password
from dealerflow.models import LoginFailure, RevokedToken, User


@dataclass(frozen=True)
class Throttle:
    per_account: int = 5
    per_address: int = 20
    window_minutes: int = 15

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


def _wait(session: Session, column, key: str, limit: int, window: timedelta, mine: int) -> int | None:
    """Seconds until fewer than `limit` other failures of `key` lie in the window; None when not locked."""
    recent = (select(LoginFailure.at).where(column == key, LoginFailure.at > func.now() - window,
                                           LoginFailure.id != mine)
              .order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1))
    nth = session.execute(select(func.date_part("epoch", recent.scalar_subquery() + window - func.now()))).scalar()
    return None if nth is None else max(1, math.ceil(float(nth)))


def log_in(session: Session, username: str, password: str, address: str, throttle: Throttle) -> User | None:
    """The user whose password this is, or None; raises TooManyAttempts when the account name or the
    address has failed too often in the window. Commits."""
    name, address = username[:200], (address or "unknown")[:64]
    mine = session.execute(insert(LoginFailure).values(username=name, address=address)
                           .returning(LoginFailure.id)).scalar_one()
    session.commit()  # visible to concurrent attempts before any is checked
    waits = [w for w in (_wait(session, LoginFailure.username, name, throttle.per_account, throttle.window, mine),
                         _wait(session, LoginFailure.address, address, throttle.per_address, throttle.window, mine))
             if w is not None]
    if waits:
        session.execute(delete(LoginFailure).where(LoginFailure.id == mine))
        session.commit()
        raise TooManyAttempts(f"too many failed logins: try again in {_minutes(max(waits))}",
                              retry_after=max(waits))
    user = session.scalars(select(User).where(User.username == username)).first()
    ok = verify_password(password, user.password_hash if user is not None else None) and user is not None
    ok = ok and user.active  # a deactivated user is refused like a wrong password (nothing to probe)
    if ok:
        session.execute(delete(LoginFailure).where(LoginFailure.username == name))
    # Old rows go with any attempt: one indexed range delete, usually of nothing.
    session.execute(delete(LoginFailure).where(LoginFailure.at < func.now() - throttle.window))
    session.commit()
    return user if ok else None


def _minutes(seconds: int) -> str:
    return f"{seconds} s" if seconds < 60 else f"{math.ceil(seconds / 60)} min"


def revoke(session: Session, jti: str, expires_at: datetime) -> None:
    """End a token before its expiry (logout); rows of tokens expired anyway are pruned. Commits."""
    session.execute(pg_insert(RevokedToken).values(jti=jti, expires_at=expires_at)
                    .on_conflict_do_nothing(index_elements=[RevokedToken.jti]))
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < func.now()))
    session.commit()


def token_user(session: Session, username: str, jti: str) -> User | None:
    """The user a token names, unless the token was revoked or the user deactivated: one query, the
    revocation a primary-key probe."""
    return session.scalars(_TOKEN_USER, {"username": username, "jti": jti}).first()


# Run on every request: built once.
_TOKEN_USER = select(User).where(User.username == bindparam("username"), User.active.is_(True),
                                 ~exists().where(RevokedToken.jti == bindparam("jti")))
