"""Dealer care: the account managers' contacts and the dealers whose contact is due or overdue, the
birthdays and anniversaries greeted on a day, and the day's care run on demand (HQ; the schedule runs
it every morning)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from dealerflow.care import contacts, daily
from dealerflow.core.errors import NotFound
from dealerflow.models import ContactTask, Dealer
from dealerflow.shared.accounts import business_date

from api.care.schemas import CareRunCreate, CareRunRead, ContactCreate, ContactDue, ContactRead, Occasion
from api.deps import CurrentUser, SessionDep, require_role
from api.errors import responses
from api.scope import STAFF, dealer_filter, sees_dealer

router = APIRouter(tags=["care"])
MANAGERS = ("account_manager", "region_manager", "hq", "admin")


def record_contact(session, user, body: ContactCreate) -> dict:
    dealer = session.scalars(select(Dealer).where(Dealer.code == body.dealer)).first()
    if dealer is None or not sees_dealer(user, dealer):
        raise NotFound("dealer not found")
    c = contacts.record(session, dealer=dealer, by=user.username, channel=body.channel, note=body.note,
                        at=datetime.now(timezone.utc))
    return {"id": c.id, "dealer_code": dealer.code, "by": c.by, "channel": c.channel, "note": c.note, "at": c.at}


@router.post("/api/v1/care/contacts", response_model=ContactRead, status_code=201,
             dependencies=[require_role(*MANAGERS)], responses=responses(404))
def create_contact(body: ContactCreate, session: SessionDep, user: CurrentUser):
    """Record a contact with a dealer the caller looks after (visit, phone, WeCom, meeting) and what was
    said; it closes the dealer's open contact task."""
    out = record_contact(session, user, body)
    session.commit()
    return out


@router.get("/api/v1/care/contacts/due", response_model=list[ContactDue], dependencies=[require_role(*STAFF)])
def contacts_due(session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=2000)] = 500):
    """The caller's dealers with an open contact task, the most overdue first."""
    return contacts.due_list(session, today=business_date(datetime.now(timezone.utc)),
                             scope=dealer_filter(user, ContactTask.dealer_id), limit=limit)


@router.get("/api/v1/care/occasions", response_model=list[Occasion], dependencies=[require_role(*STAFF)])
def occasions(session: SessionDep, user: CurrentUser, day: date | None = None):
    """The birthdays and cooperation anniversaries greeted on `day` (default today), with the points given."""
    return contacts.occasions(session, day=day or business_date(datetime.now(timezone.utc)),
                              scope=dealer_filter(user, Dealer.id))


@router.post("/api/v1/care/runs", response_model=CareRunRead, dependencies=[require_role("hq", "admin")])
def run_care(session: SessionDep, body: CareRunCreate | None = None):
    """Run the day's care now (default today): what the morning schedule does; a second run of a day
    gives nothing twice."""
    day = (body.day if body and body.day else None) or business_date(datetime.now(timezone.utc))
    done = daily.run_day(session, day)
    session.commit()
    return {"day": done.day, "greeted": done.greeted, "points": done.points, "told_eve": done.told_eve,
            "contact_tasks": done.contact_tasks}
