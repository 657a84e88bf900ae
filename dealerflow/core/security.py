"""Password hashing (bcrypt), the password policy, and signed bearer tokens (JWT). A token is
stateless except for logout: its `jti` is then revoked (dealerflow.shared.logins), in PostgreSQL,
so every API process refuses it."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import bcrypt
import jwt

from dealerflow.core.errors import Invalid

ALGORITHM = "HS256"
ROUNDS = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further: longer passwords are refused, not silently cut
MIN_PASSWORD_LENGTH = 10
# Claims every token must carry: a token without an expiry or an id could never be ended.
REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti")

# The most common passwords of public breach lists (lower case); a password is refused when it is one
# of these, or one of these followed by digits and punctuation ("Password2024!").
COMMON_PASSWORDS = frozenset("""
123456 123456789 12345678 12345 1234567 1234567890 123123 111111 11111111 000000 00000000 654321
666666 121212 123321 112233 987654321 0987654321 1q2w3e4r 1q2w3e4r5t 1qaz2wsx qwerty qwerty123
qwertyuiop qwe123 asdfgh asdfghjkl zxcvbnm zxcvbnm123 password passw0rd p@ssw0rd password1 abc123 abcd1234
iloveyou admin administrator root letmein welcome monkey dragon football baseball sunshine princess
master shadow superman batman trustno1 starwars whatever freedom login changeme secret default
guest test test123 user demo dealer dealerflow a123456 aa123456 woaini woaini1314 5201314 88888888
""".split())
_TAIL = re.compile(r"[\d\W_]+$")

# What an unknown user's login is checked against, so that it costs what a real user's does and the
# answer's timing does not tell whether the account exists.
_DUMMY_HASH = bcrypt.hashpw(b"no such user: a dummy password", bcrypt.gensalt(rounds=ROUNDS))


def _encoded(password: str) -> bytes | None:
    """The UTF-8 bytes bcrypt hashes, or None for a password it cannot take whole."""
    try:
        data = password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from JSON "\\ud800"
        return None
    return data if len(data) <= MAX_PASSWORD_BYTES else None


def _unusable() -> Invalid:
    return Invalid(f"the password must be valid text of at most {MAX_PASSWORD_BYTES} bytes in UTF-8 "
                   f"({MAX_PASSWORD_BYTES} ASCII or 24 Chinese characters)", field="password")


def hash_password(password: str) -> str:
    data = _encoded(password)
    if data is None:
        raise _unusable()
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=ROUNDS)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    """Whether `password` matches `hashed`. With no hash (an unknown user), or a password that could
    never have been stored, the same bcrypt work is done against a dummy hash and the answer is False."""
    data = _encoded(password)
    try:
        stored = hashed.encode() if hashed else None
        if data is None or stored is None:
            bcrypt.checkpw(b"x", stored or _DUMMY_HASH)
            return False
        return bcrypt.checkpw(data, stored)
    except ValueError:  # a malformed stored hash
        return False


def check_password_policy(password: str, *, username: str = "") -> None:
    """Refuse (Invalid naming `password`) what a new password may not be: too short, too long for
    bcrypt, digits only, one repeated character, a common password, or the username."""
    def refuse(why: str):
        raise Invalid(f"the password {why}", field="password")

    if _encoded(password) is None:
        raise _unusable()
    if len(password) < MIN_PASSWORD_LENGTH:
        refuse(f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.isdigit():
        refuse("must not be digits only")
    if len(set(password)) == 1:
        refuse("must not repeat one character")
    lower = password.lower()
    if lower in COMMON_PASSWORDS or _TAIL.sub("", lower) in COMMON_PASSWORDS:
        refuse("is too common")
    name = username.strip().lower()
    if name and (lower == name or _TAIL.sub("", lower) == name or (len(name) >= 4 and name in lower)):
        refuse("must not contain the username")


def issue_token(*, username: str, role: str, secret: str, minutes: int) -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": username, "role": role, "iat": now, "exp": now + timedelta(minutes=minutes),
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> dict | None:
    """The claims of a valid, unexpired token that carries every required claim; None otherwise.
    (Revocation is checked where the user is loaded, in the same query.)"""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": list(REQUIRED_CLAIMS)})
    except jwt.PyJWTError:
        return None
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str) or len(claims["jti"]) > 64:
        return None
    return claims
