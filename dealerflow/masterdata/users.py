"""Users: create, change (role, dealer, region, name, phone), reset a password, deactivate. A
deactivated user cannot sign in and its tokens stop working (shared/logins.py reads `active`); the row
stays for the audit trail. Passwords are never audited, only that one was reset."""
from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.core.security import check_password_policy, hash_password
from dealerflow.models import ROLES, Dealer, RegionManager, User

from . import audit
from .records import fingerprint, like

FIELDS = ("role", "dealer_code", "region", "display_name", "phone", "active")


def find(session: Session, username: str, *, lock: bool = False) -> User:
    q = select(User).where(User.username == username)
    user = session.scalars(q.with_for_update(of=User) if lock else q).first()
    if user is None:
        raise NotFound("user not found")
    return user


def values(user: User) -> dict:
    return {"role": user.role, "dealer_code": user.dealer.code if user.dealer else None, "region": user.region,
            "display_name": user.display_name, "phone": user.phone, "active": user.active}


def etag(user: User) -> str:
    return fingerprint(values(user))


def filter(q: Select, *, search: str | None = None, role: str | None = None, active: bool | None = None) -> Select:
    if search:
        q = q.outerjoin(Dealer, User.dealer_id == Dealer.id).where(
            or_(User.username.ilike(like(search)), User.display_name.ilike(like(search)),
                Dealer.code.ilike(like(search))))
    if role:
        q = q.where(User.role == role)
    if active is not None:
        q = q.where(User.active.is_(active))
    return q


def problems(wanted: dict, dealers: set[str]) -> list[tuple[str, str]]:
    """(field, message) of what is wrong with a user's wanted values; `dealers`: the known dealer codes."""
    out = []
    role = wanted.get("role")
    if role not in ROLES:
        out.append(("role", f"{role!r} is not a role: {', '.join(ROLES)}"))
    if role == "dealer":
        if not wanted.get("dealer_code"):
            out.append(("dealer_code", "required for a dealer user"))
        elif wanted["dealer_code"] not in dealers:
            out.append(("dealer_code", f"unknown dealer {wanted['dealer_code']!r}"))
    elif wanted.get("dealer_code"):
        out.append(("dealer_code", "only dealer users belong to a dealer"))
    if (role == "region_manager") != bool(wanted.get("region")):
        out.append(("region", "a region manager, and only one, has a region"))
    return out


def _check(session: Session, wanted: dict) -> int | None:
    code = wanted.get("dealer_code")
    known = set(session.scalars(select(Dealer.code).where(Dealer.code == code))) if code else set()
    found = problems(wanted, known)
    if found:
        raise Invalid.listing([{"field": f, "message": m} for f, m in found])
    return session.scalar(select(Dealer.id).where(Dealer.code == code)) if code else None


def create(session: Session, *, username: str, password: str, role: str, dealer_code: str | None = None,
           region: str | None = None, display_name: str | None = None, phone: str | None = None,
           actor: str = "system", via: str = "api") -> User:
    """A new user: the password policy, a dealer user's dealer, a region manager's region."""
    check_password_policy(password, username=username)
    wanted = dict(role=role, dealer_code=dealer_code, region=region, display_name=display_name, phone=phone,
                  active=True)
    dealer_id = _check(session, wanted)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"user {username!r} already exists", field="username")
    user = User(username=username, password_hash=hash_password(password), role=role, dealer_id=dealer_id,
                region=region, display_name=display_name, phone=phone, active=True)
    session.add(user)
    session.flush()
    audit.record(session, record_type="user", key=username, before={}, after=wanted, actor=actor, via=via,
                 note="created")
    return user


def update(session: Session, *, username: str, changes: dict, expected: str | None = None, actor: str = "system",
           via: str = "api") -> User:
    """Change some of FIELDS; a role change ends the user's tokens (they carry the role). An account
    manager who is no longer one leaves its regions."""
    user = find(session, username, lock=True)
    current = values(user)
    if expected is not None and expected != fingerprint(current):
        raise Conflict(f"user {username} was changed by someone else since it was read: "
                       "reload it and make the change again")
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid(f"not a field of a user that can be changed: {', '.join(sorted(unknown))}",
                      field=sorted(unknown)[0])
    wanted = {**current, **changes}
    if wanted["role"] != "dealer" and "dealer_code" not in changes:
        wanted["dealer_code"] = None
    if wanted["role"] != "region_manager" and "region" not in changes:
        wanted["region"] = None
    if username == actor and wanted["active"] is False:
        raise Invalid("you cannot deactivate yourself", field="active")
    dealer_id = _check(session, wanted)
    user.role, user.dealer_id, user.region = wanted["role"], dealer_id, wanted["region"]
    user.display_name, user.phone, user.active = wanted["display_name"], wanted["phone"], wanted["active"]
    if user.role != "account_manager":
        session.query(RegionManager).filter(RegionManager.user_id == user.id).delete()
    session.flush()
    audit.record(session, record_type="user", key=username, before=current, after=wanted, actor=actor, via=via)
    return user


def reset_password(session: Session, *, username: str, password: str, actor: str, via: str = "api") -> User:
    """An administrator sets a new password (the policy applies); audited without the password."""
    user = find(session, username, lock=True)
    check_password_policy(password, username=username)
    user.password_hash = hash_password(password)
    audit.record(session, record_type="user", key=username, before={"password": "…"},
                 after={"password": "reset"}, actor=actor, via=via)
    return user


def deactivate(session: Session, *, username: str, actor: str, via: str = "api") -> User:
    return update(session, username=username, changes={"active": False}, actor=actor, via=via)
