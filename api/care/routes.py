"""Dealer care: the account managers' contacts and the dealers whose contact is due or overdue, the
birthdays and anniversaries greeted on a day, and the day's care run on demand (HQ; the schedule runs
it every morning)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from sqlalchemy import select

from dealerflow.care import contacts, daily, points
from dealerflow.core.errors import NotFound
from dealerflow.models import ContactTask, Dealer
from dealerflow.shared.accounts import business_date

from api.care.schemas import (CareRunCreate, CareRunRead, CatalogueItemRead, ContactCreate, ContactDue, ContactRead,
                              Occasion, RedemptionCreate, RedemptionRead)
from api.care.temporal import start_redemption
from api.deps import CurrentUser, DealerUser, SessionDep, TemporalDep, require_role
from api.i18n import locale_of
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


def _redemption(r, balance: int) -> dict:
    return {"id": str(r.id), "item": r.item, "title": r.title, "points": r.points, "status": r.status,
            "created_at": r.created_at, "decided_at": r.decided_at, "note": r.note, "balance": balance}


@router.get("/api/v1/points/catalogue", response_model=list[CatalogueItemRead])
def get_catalogue(request: Request, session: SessionDep, user: CurrentUser):
    """What points buy (the service rule file's catalogue)."""
    return points.catalogue(session, locale_of(request))


@router.post("/api/v1/points/redemptions", response_model=RedemptionRead, status_code=201,
             responses=responses(409, 503))
async def redeem(body: RedemptionCreate, request: Request, client: TemporalDep, user: DealerUser,
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    """Spend points on a catalogue item: taken from the balance now (409 when there are too few), fulfilled
    by HQ; a refused redemption gives the points back. The same Idempotency-Key redeems once."""
    sessions, settings = request.app.state.sessions, request.app.state.settings

    def record():
        session = sessions()
        try:
            r, task = points.redeem(session, dealer_id=user.dealer_id, item=body.item, actor=user.username,
                                    now=datetime.now(timezone.utc), key=idempotency_key)
            return session, r, task
        except BaseException:
            session.close()
            raise
    session, r, task = await run_in_threadpool(record)
    try:
        if task is not None:  # started before the commit: if Temporal is down nothing is spent
            await start_redemption(client=client, task_queue=settings.task_queue, redemption_id=str(r.id), task=task,
                                   dealer_code=user.dealer.code)
            await run_in_threadpool(session.commit)
        return _redemption(r, await run_in_threadpool(points.balance, session, user.dealer_id))
    finally:
        await run_in_threadpool(session.close)


@router.get("/api/v1/points/redemptions", response_model=list[RedemptionRead])
def my_redemptions(session: SessionDep, user: DealerUser):
    have = points.balance(session, user.dealer_id)
    return [_redemption(r, have) for r in points.redemptions_of(session, user.dealer_id)]
