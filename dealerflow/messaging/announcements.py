"""Announcements: the target is a condition over dealer facts in the language policies are targeted
with (`dealer.tier == "core" and dealer.region == "east"`), checked when written (an unknown fact or a
bad operator is an Invalid naming `target`) and evaluated by the rule engine for every dealer,
streamed; recipients and their inbox notifications are written in set-based statements."""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from dealerflow.core.errors import Conflict, Invalid, NotFound
from dealerflow.messaging.attachments import MAX_FILES, attach, of_announcements
from dealerflow.models import Announcement, AnnouncementRecipient
from dealerflow.shared.dealer_facts import facts_of, select_facts
from dealerflow.shared.notifications import notify_dealers
from policies_dsl import compile_rule_file
from policies_dsl.compiler import checked_condition
from policies_dsl.conditions import ConditionError
from policies_dsl.kinds.fragments import DEALER_FACTS
from policies_dsl.model import Rule, RuleFile, facts_of as fact_specs

EVERYONE = "true"
_RECIPIENTS = text("""
    insert into announcement_recipients (announcement_id, dealer_id)
    select :id, d from unnest(cast(:dealers as int[])) d on conflict do nothing""")


def targeting(target: str):
    """The target compiled as a one-rule file, as a policy's targeting rule is."""
    facts = fact_specs(DEALER_FACTS)
    try:
        condition = checked_condition(target, facts)
    except ConditionError as e:
        raise Invalid(str(e), field="target") from None
    rule = Rule("targeted", target, {"targeted": True}, 0, 1, condition)
    rf = RuleFile(file="announcement", name="announcement_target", kind="policy", description="", facts=facts,
                  rules=(rule,), default={"targeted": False}, tests=(), source=target,
                  sha256=hashlib.sha256(target.encode()).hexdigest())
    return compile_rule_file(rf, 1)


def publish(session: Session, *, title: str | None, body: str | None, target: str | None, ack_required: bool,
            actor: str, now: datetime, attachments: Sequence[dict] = ()) -> Announcement:
    title, body, target = (title or "").strip(), (body or "").strip(), (target or "").strip() or EVERYONE
    if not title:
        raise Invalid("must not be empty", field="title")
    if not body:
        raise Invalid("must not be empty", field="body")
    if len(title) > 200 or len(body) > 20000 or len(target) > 2000:
        raise Invalid("too long", field="title" if len(title) > 200 else "body" if len(body) > 20000 else "target")
    if len(attachments) > MAX_FILES:
        raise Invalid(f"at most {MAX_FILES} files", field="files")
    ruleset = targeting(target) if target != EVERYONE else None
    a = Announcement(title=title, body=body, target=target, ack_required=ack_required, recipients=0,
                     published_by=actor, published_at=now)
    session.add(a)
    session.flush()
    attach(session, attachments, announcement_id=a.id)
    chosen: list[int] = []
    for row in session.execute(select_facts().execution_options(yield_per=2000)):
        if ruleset is None or ruleset.decide(facts_of(row)).outcome.get("targeted"):
            chosen.append(row.id)
    for i in range(0, len(chosen), 5000):
        session.execute(_RECIPIENTS, {"id": a.id, "dealers": chosen[i:i + 5000]})
    a.recipients = len(chosen)
    notify_dealers(session, chosen, kind="announcement", title=title, link=f"/console/announcements/{a.id}",
                   dedup=f"announcement:{a.id}")
    return a


def for_dealer(session: Session, dealer_id: int, limit: int = 100) -> list[dict]:
    rows = session.execute(select(Announcement, AnnouncementRecipient).join(
        AnnouncementRecipient, AnnouncementRecipient.announcement_id == Announcement.id)
        .where(AnnouncementRecipient.dealer_id == dealer_id).order_by(Announcement.id.desc()).limit(limit)).all()
    files = of_announcements(session, [a.id for a, _ in rows])
    return [read_model(a, r, files[a.id]) for a, r in rows]


def read_model(a: Announcement, r: AnnouncementRecipient | None = None, attachments: list[dict] | None = None) -> dict:
    return {"attachments": attachments or [], "id": a.id, "title": a.title, "body": a.body, "target": a.target, "ack_required": a.ack_required,
            "recipients": a.recipients, "published_by": a.published_by, "published_at": a.published_at,
            "read_at": r.read_at if r else None, "acked_at": r.acked_at if r else None}


def open_for(session: Session, announcement_id: int, dealer_id: int, now: datetime) -> dict:
    """A dealer opens an announcement: marked read; another dealer's is a 404."""
    row = session.execute(select(Announcement, AnnouncementRecipient).join(
        AnnouncementRecipient, AnnouncementRecipient.announcement_id == Announcement.id)
        .where(Announcement.id == announcement_id, AnnouncementRecipient.dealer_id == dealer_id)).first()
    if row is None:
        raise NotFound("announcement not found")
    a, r = row
    if r.read_at is None:
        r.read_at = now
    return read_model(a, r, of_announcements(session, [a.id])[a.id])


def acknowledge(session: Session, announcement_id: int, dealer_id: int, now: datetime) -> dict:
    out = open_for(session, announcement_id, dealer_id, now)
    if not out["ack_required"]:
        raise Conflict("this announcement asks for no acknowledgment")
    session.execute(update(AnnouncementRecipient).where(
        AnnouncementRecipient.announcement_id == announcement_id, AnnouncementRecipient.dealer_id == dealer_id,
        AnnouncementRecipient.acked_at.is_(None)).values(acked_at=now))
    return open_for(session, announcement_id, dealer_id, now)


def published(session: Session, limit: int = 100) -> list[dict]:
    counts = dict(session.execute(select(AnnouncementRecipient.announcement_id, func.count()).where(
        AnnouncementRecipient.read_at.is_not(None)).group_by(AnnouncementRecipient.announcement_id)).all())
    rows = session.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit)).all()
    files = of_announcements(session, [a.id for a in rows])
    return [{**read_model(a, None, files[a.id]), "read": counts.get(a.id, 0)} for a in rows]


def for_staff(session: Session, announcement_id: int) -> dict:
    a = session.get(Announcement, announcement_id)
    if a is None:
        raise NotFound("announcement not found")
    return read_model(a, None, of_announcements(session, [a.id])[a.id])


__all__ = ["publish", "for_dealer", "for_staff", "open_for", "acknowledge", "published", "targeting"]
