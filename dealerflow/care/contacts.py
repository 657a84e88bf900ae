"""An account manager's contacts with dealers: recorded with their channel and note (closing the open
contact task), and the list of dealers whose contact is overdue."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from dealerflow.core.errors import Invalid
from dealerflow.models import CareEvent, ContactTask, Dealer, DealerContact

CHANNELS = ("visit", "phone", "wecom", "meeting")
MAX_NOTE = 2000


def record(session: Session, *, dealer: Dealer, by: str, channel: str, note: str | None, at: datetime) -> DealerContact:
    if channel not in CHANNELS:
        raise Invalid(f"one of {', '.join(CHANNELS)}", field="channel")
    note = (note or "").strip()
    if not note:
        raise Invalid("must not be empty", field="note")
    if len(note) > MAX_NOTE:
        raise Invalid(f"at most {MAX_NOTE} characters", field="note")
    contact = DealerContact(dealer_id=dealer.id, by=by, channel=channel, note=note, at=at)
    session.add(contact)
    session.flush()
    session.execute(update(ContactTask).where(ContactTask.dealer_id == dealer.id, ContactTask.status == "open")
                    .values(status="done", done_at=at, contact_id=contact.id))
    return contact


def due_list(session: Session, *, today: date, scope: ColumnElement | None = None, limit: int = 500) -> list[dict]:
    """Open contact tasks, the most overdue first."""
    q = (select(ContactTask, Dealer.code, Dealer.name, Dealer.tier)
         .join(Dealer, Dealer.id == ContactTask.dealer_id).where(ContactTask.status == "open")
         .order_by(ContactTask.due_on, ContactTask.id).limit(limit))
    if scope is not None:
        q = q.where(scope)
    return [{"dealer_code": code, "dealer_name": name, "tier": tier, "account_manager": t.account_manager,
             "due_on": t.due_on, "days_overdue": max((today - t.due_on).days, 0), "overdue": t.due_on < today}
            for t, code, name, tier in session.execute(q)]


def recent(session: Session, dealer_id: int, limit: int = 20) -> list[DealerContact]:
    return list(session.scalars(select(DealerContact).where(DealerContact.dealer_id == dealer_id)
                                .order_by(DealerContact.at.desc()).limit(limit)))


def occasions(session: Session, *, day: date, scope: ColumnElement | None = None) -> list[dict]:
    """The birthdays and anniversaries greeted on `day`."""
    q = (select(CareEvent, Dealer.code, Dealer.name, Dealer.contact_name).join(Dealer, Dealer.id == CareEvent.dealer_id)
         .where(CareEvent.on_date == day).order_by(Dealer.code))
    if scope is not None:
        q = q.where(scope)
    return [{"dealer_code": code, "dealer_name": name, "contact_name": contact, "occasion": e.occasion,
             "years": e.years, "points": e.points} for e, code, name, contact in session.execute(q)]
