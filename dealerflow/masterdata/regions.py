"""Regions and their account managers. A dealer names its region by code (dealers.region); the regions
table gives the region its name and the account managers who serve it (many to many). A region a
dealer names but the table lacks is still listed, without a name of its own."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.models import Dealer, Region, RegionManager, User

from . import audit
from .records import fingerprint


@dataclass(frozen=True)
class RegionSummary:
    code: str
    name: str
    dealers: int
    level_1: int
    level_2: int
    assigned: list[str]  # account managers assigned to the region
    account_managers: list[str]  # account managers its dealers name
    region_managers: list[str]
    listed: bool  # in the regions table
    version: str | None = None  # the fingerprint an edit names (If-Match); None when not listed


def managers_of(session: Session, code: str) -> list[str]:
    return list(session.scalars(select(User.username).join(RegionManager, RegionManager.user_id == User.id)
                                .where(RegionManager.region_code == code).order_by(User.username)))


def find(session: Session, code: str, *, lock: bool = False) -> Region:
    q = select(Region).where(Region.code == code)
    region = session.scalars(q.with_for_update() if lock else q).first()
    if region is None:
        raise NotFound("region not found")
    return region


def values(session: Session, region: Region) -> dict:
    return {"name": region.name, "account_managers": managers_of(session, region.code)}


def etag(session: Session, region: Region) -> str:
    return fingerprint(values(session, region))


def _manager_ids(session: Session, names: list[str]) -> list[int]:
    found = dict(session.execute(select(User.username, User.id).where(
        User.username.in_(names), User.role == "account_manager", User.active.is_(True))).all())
    missing = [n for n in names if n not in found]
    if missing:
        raise Invalid(f"unknown account manager {missing[0]!r} (an active user of that role)",
                      field="account_managers")
    return [found[n] for n in dict.fromkeys(names)]


def _assign(session: Session, code: str, names: list[str]) -> None:
    ids = _manager_ids(session, names)
    session.execute(delete(RegionManager).where(RegionManager.region_code == code))
    if ids:
        session.execute(insert(RegionManager), [{"region_code": code, "user_id": i} for i in ids])


def create(session: Session, *, code: str, name: str, account_managers: list[str] = (), actor: str,
           via: str = "api") -> Region:
    if session.get(Region, code) is not None:
        raise Conflict(f"region {code!r} already exists", field="code")
    region = Region(code=code, name=name)
    session.add(region)
    session.flush()
    _assign(session, code, list(account_managers))
    audit.record(session, record_type="region", key=code, before={},
                 after={"name": name, "account_managers": sorted(set(account_managers))}, actor=actor, via=via,
                 note="created")
    return region


def update(session: Session, *, code: str, changes: dict, expected: str | None = None, actor: str,
           via: str = "api") -> Region:
    """Rename a region or set its account managers; `expected` as for a dealer (the fingerprint the
    edit was made on: a stale one is a Conflict, nothing changed)."""
    region = find(session, code, lock=True)
    current = values(session, region)
    if expected is not None and expected != fingerprint(current):
        raise Conflict(f"region {code} was changed by someone else since it was read: "
                       "reload it and make the change again")
    unknown = set(changes) - {"name", "account_managers"}
    if unknown:
        raise Invalid(f"not a field of a region: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if "name" in changes:
        region.name = changes["name"]
    if "account_managers" in changes:
        _assign(session, code, list(changes["account_managers"]))
    session.flush()
    after = values(session, region)
    audit.record(session, record_type="region", key=code, before=current, after=after, actor=actor, via=via)
    return region


def summaries(session: Session) -> list[RegionSummary]:
    """Every region, listed or named by dealers: dealers, account managers, the region's managers."""
    counts = {region: (total, level_1, sorted(ams or [])) for region, total, level_1, ams in session.execute(
        select(Dealer.region, func.count(), func.count().filter(Dealer.level == 1),
               func.array_remove(func.array_agg(Dealer.account_manager.distinct()), None))
        .group_by(Dealer.region))}
    names = dict(session.execute(select(Region.code, Region.name)).all())
    assigned: dict[str, list[str]] = {}
    for region, username in session.execute(
            select(RegionManager.region_code, User.username).join(User, User.id == RegionManager.user_id)
            .order_by(User.username)):
        assigned.setdefault(region, []).append(username)
    managers: dict[str, list[str]] = {}
    for region, username in session.execute(select(User.region, User.username)
                                             .where(User.role == "region_manager").order_by(User.username)):
        managers.setdefault(region, []).append(username)
    out = []
    for code in sorted(set(counts) | set(names)):
        total, level_1, ams = counts.get(code, (0, 0, []))
        listed = code in names
        version = fingerprint({"name": names[code], "account_managers": assigned.get(code, [])}) if listed else None
        out.append(RegionSummary(code, names.get(code, code), total, level_1, total - level_1, assigned.get(code, []),
                                 ams, managers.get(code, []), listed, version))
    return out
