"""People's own notification addresses and preferences: a mobile number for SMS and a WeCom userid
for application messages, which kinds of notification reach them on which channel, and quiet hours
in Beijing time during which non-urgent messages wait.

Who a notification reaches: the user it names; the active users of the dealer it names; the active
users of the role it names — the last only for kinds they opted into, so a role's notifications do
not reach every phone of HQ. A person is reached on a channel when they have an address there (for
SMS the phone of their account will do) and have not turned the kind off. A dealer's notification
that reaches none of its users by SMS goes to the dealer's contact phone, as before preferences."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid
from dealerflow.models import (PERSONAL_CHANNELS, Dealer, NotificationAddress, NotificationPreference,
                               NotificationProfile, User)

BEIJING = timezone(timedelta(hours=8))
# Kinds that do not wait for the end of quiet hours: escalations and steps that fail for good.
URGENT_KINDS = frozenset({"escalation", "policy_escalation", "process_failure", "error", "parcel_problem"})
# The kinds people choose among on the preferences page (others are accepted by the API as well).
KINDS = ("task", "reminder", "escalation", "message", "announcement", "service", "service_request", "policy",
         "credit", "statement", "settlement", "parcel_problem", "inventory_red_items", "points", "process_failure")
KIND = re.compile(r"^[a-z][a-z_]{0,31}$")
PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number
WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def check_address(channel: str, address: str, field: str) -> str:
    address = address.strip()
    if channel == "sms" and not PHONE.match(address):
        raise Invalid("a mainland mobile number of 11 digits, such as 13800138000", field=field)
    if channel == "wecom_app" and not WECOM_USERID.match(address):
        raise Invalid("a WeCom userid: letters, digits, _ . @ - (at most 64)", field=field)
    return address


def _hhmm(raw: str | None, field: str) -> str | None:
    if raw in (None, ""):
        return None
    if not HHMM.match(raw):
        raise Invalid("a time of day as 22:00", field=field)
    return raw


def profile(session: Session, user: User) -> dict:
    """A person's addresses, preferences (kind → channel → on/off, explicit rows only) and quiet hours."""
    addresses = dict(session.execute(select(NotificationAddress.channel, NotificationAddress.address)
                                     .where(NotificationAddress.user_id == user.id)).all())
    prefs: dict[str, dict[str, bool]] = {}
    for kind, channel, enabled in session.execute(
            select(NotificationPreference.kind, NotificationPreference.channel, NotificationPreference.enabled)
            .where(NotificationPreference.user_id == user.id)):
        prefs.setdefault(kind, {})[channel] = enabled
    p = session.get(NotificationProfile, user.id)
    return {"username": user.username, "role": user.role, "phone": user.phone,
            "addresses": {c: addresses.get(c) for c in PERSONAL_CHANNELS},
            "preferences": [{"kind": k, "channel": c, "enabled": v} for k, cs in sorted(prefs.items())
                            for c, v in sorted(cs.items())],
            "quiet_start": p.quiet_start if p else None, "quiet_end": p.quiet_end if p else None}


def save(session: Session, user: User, *, addresses: dict[str, str | None], preferences: list[dict],
         quiet_start: str | None, quiet_end: str | None, actor: str) -> dict:
    """Replace a person's addresses, preferences and quiet hours, all checked before anything is
    written (an Invalid names the field at fault)."""
    clean_addresses = {}
    for channel, address in addresses.items():
        if channel not in PERSONAL_CHANNELS:
            raise Invalid(f"unknown channel; one of {', '.join(PERSONAL_CHANNELS)}", field=f"addresses.{channel}")
        if address not in (None, ""):
            clean_addresses[channel] = check_address(channel, address, f"addresses.{channel}")
    clean_prefs = {}
    for i, p in enumerate(preferences):
        kind, channel = p.get("kind") or "", p.get("channel") or ""
        if not KIND.match(kind):
            raise Invalid("a kind of notification such as task or message", field=f"preferences[{i}].kind")
        if channel not in PERSONAL_CHANNELS:
            raise Invalid(f"one of {', '.join(PERSONAL_CHANNELS)}", field=f"preferences[{i}].channel")
        clean_prefs[(kind, channel)] = bool(p.get("enabled"))
    start, end = _hhmm(quiet_start, "quiet_start"), _hhmm(quiet_end, "quiet_end")
    if (start is None) != (end is None):
        raise Invalid("give both ends of the quiet hours, or neither", field="quiet_end" if start else "quiet_start")
    if start is not None and start == end:
        raise Invalid("the quiet hours must end at another time than they start", field="quiet_end")

    session.execute(delete(NotificationAddress).where(NotificationAddress.user_id == user.id))
    if clean_addresses:
        session.execute(insert(NotificationAddress).values(
            [{"user_id": user.id, "channel": c, "address": a} for c, a in clean_addresses.items()]))
    session.execute(delete(NotificationPreference).where(NotificationPreference.user_id == user.id))
    if clean_prefs:
        session.execute(insert(NotificationPreference).values(
            [{"user_id": user.id, "kind": k, "channel": c, "enabled": v} for (k, c), v in clean_prefs.items()]))
    stmt = insert(NotificationProfile).values(user_id=user.id, quiet_start=start, quiet_end=end, updated_by=actor)
    session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_={
        "quiet_start": start, "quiet_end": end, "updated_by": actor, "updated_at": datetime.now(timezone.utc)}))
    session.flush()
    return profile(session, user)


def quiet_until(start: str | None, end: str | None, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (Beijing time; a window may pass midnight), or None."""
    if not start or not end:
        return None
    local = now.astimezone(BEIJING)
    s, e = time.fromisoformat(start), time.fromisoformat(end)
    t = local.time()
    inside = (s <= t < e) if s < e else (t >= s or t < e)
    if not inside:
        return None
    until = local.replace(hour=e.hour, minute=e.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(timezone.utc)


def personal_deliveries(session: Session, messages: list, channels: list[str], *, now: datetime) -> list[dict]:
    """The rows of notification_deliveries for a batch's personal channels (see the module's rules)."""
    user_ids = {m.user_id for m in messages if m.user_id}
    dealer_ids = {m.dealer_id for m in messages if m.dealer_id}
    roles = {m.role for m in messages if m.role}
    conditions = []
    if user_ids:
        conditions.append(User.id.in_(user_ids))
    if dealer_ids:
        conditions.append(User.dealer_id.in_(dealer_ids))
    if roles:
        conditions.append(User.role.in_(roles))
    people: list = []
    if conditions:
        people = session.execute(select(User.id, User.role, User.dealer_id, User.phone)
                                 .where(User.active.is_(True), or_(*conditions))).all()
    ids = [p.id for p in people]
    addresses: dict[tuple[int, str], str] = {}
    prefs: dict[tuple[int, str, str], bool] = {}
    quiet: dict[int, tuple[str | None, str | None]] = {}
    if ids:
        addresses = {(u, c): a for u, c, a in session.execute(
            select(NotificationAddress.user_id, NotificationAddress.channel, NotificationAddress.address)
            .where(NotificationAddress.user_id.in_(ids)))}
        prefs = {(u, k, c): e for u, k, c, e in session.execute(
            select(NotificationPreference.user_id, NotificationPreference.kind, NotificationPreference.channel,
                   NotificationPreference.enabled).where(NotificationPreference.user_id.in_(ids)))}
        quiet = {u: (s, e) for u, s, e in session.execute(
            select(NotificationProfile.user_id, NotificationProfile.quiet_start, NotificationProfile.quiet_end)
            .where(NotificationProfile.user_id.in_(ids)))}
    contact = dict(session.execute(select(Dealer.id, Dealer.contact_phone).where(
        Dealer.id.in_(dealer_ids), Dealer.contact_phone.is_not(None))).all()) if dealer_ids and "sms" in channels else {}

    by_id = {p.id: p for p in people}
    by_dealer: dict[int, list] = {}
    by_role: dict[str, list] = {}
    for p in people:
        if p.dealer_id:
            by_dealer.setdefault(p.dealer_id, []).append(p)
        by_role.setdefault(p.role, []).append(p)
    out: list[dict] = []
    for m in messages:
        reached = ([(by_id[m.user_id], "own")] if m.user_id in by_id else []) + \
                  [(p, "own") for p in by_dealer.get(m.dealer_id, ()) if p.id != m.user_id] + \
                  [(p, "role") for p in by_role.get(m.role, ()) if p.id != m.user_id]
        for channel in channels:
            sms_sent = turned_off = False
            for person, why in reached:
                choice = prefs.get((person.id, m.kind, channel))
                if choice is False:
                    turned_off = True
                if not (choice is True or (choice is None and why == "own")):
                    continue
                address = addresses.get((person.id, channel)) or (person.phone if channel == "sms" else None)
                if not address:
                    continue
                due = None if m.kind in URGENT_KINDS else quiet_until(*quiet.get(person.id, (None, None)), now)
                out.append({"notification_id": m.id, "channel": channel, "address": address[:64],
                            "user_id": person.id, "next_at": due or now})
                sms_sent = sms_sent or channel == "sms"
            if channel == "sms" and m.dealer_id and not sms_sent and not turned_off and contact.get(m.dealer_id):
                out.append({"notification_id": m.id, "channel": "sms", "address": contact[m.dealer_id][:64],
                            "user_id": None, "next_at": now})
    return out
