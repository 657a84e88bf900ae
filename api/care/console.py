"""The care page of an account manager, phone first: dealers whose contact is due or overdue, each with
a form to record the contact; today's birthdays and anniversaries."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError

from starlette.concurrency import run_in_threadpool

from dealerflow.care import contacts, points
from dealerflow.core.errors import DomainError, NotFound
from dealerflow.models import ContactTask, Dealer
from dealerflow.shared.accounts import business_date

from api.care.routes import record_contact
from api.care.schemas import ContactCreate
from api.care.temporal import start_redemption
from api.deps import SessionDep, TemporalDep
from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.scope import STAFF, dealer_filter

router = APIRouter(prefix="/console", include_in_schema=False)


def _page(request: Request, session, user, message: str | None = None, status_code: int = 200):
    today = business_date(datetime.now(timezone.utc))
    return page(request, "care.html", user, status_code, error=message, today=today,
                due=contacts.due_list(session, today=today, scope=dealer_filter(user, ContactTask.dealer_id)),
                occasions=contacts.occasions(session, day=today, scope=dealer_filter(user, Dealer.id)),
                channels=contacts.CHANNELS, may_record=user.role in ("account_manager", "region_manager", "hq", "admin"))


@router.get("/care")
def care_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *STAFF)
    return _page(request, session, user)


@router.post("/care/contacts")
def record(request: Request, session: SessionDep, user: ConsoleUser, dealer: Annotated[str, Form(max_length=32)],
           channel: Annotated[str, Form(max_length=16)], note: Annotated[str, Form(max_length=2000)] = ""):
    require(user, "account_manager", "region_manager", "hq", "admin")
    try:
        record_contact(session, user, ContactCreate(dealer=dealer, channel=channel, note=note))
        session.commit()
    except (DomainError, ValidationError) as e:
        if isinstance(e, NotFound):
            raise
        session.rollback()
        message, status_code = refusal(e, request)
        return _page(request, session, user, message, status_code)
    _ = translator(request)
    return back("/console/care", flash=_("Contact recorded."))


def _points_page(request: Request, session, user, message: str | None = None, status_code: int = 200):
    from api.i18n import locale_of
    return page(request, "points.html", user, status_code, error=message,
                balance=points.balance(session, user.dealer_id),
                catalogue=points.catalogue(session, locale_of(request)),
                redemptions=points.redemptions_of(session, user.dealer_id))


@router.get("/points")
def points_page(request: Request, session: SessionDep, user: ConsoleUser):
    """A dealer's points: the balance, what they buy, and its redemptions."""
    require(user, "dealer")
    return _points_page(request, session, user)


@router.post("/points")
async def redeem(request: Request, client: TemporalDep, user: ConsoleUser, item: Annotated[str, Form(max_length=32)],
                 key: Annotated[str, Form(max_length=64)] = ""):
    """The same redemption as the API; the form's key makes a double tap redeem once."""
    require(user, "dealer")
    sessions, settings = request.app.state.sessions, request.app.state.settings
    try:
        def record():
            session = sessions()
            try:
                r, task = points.redeem(session, dealer_id=user.dealer_id, item=item, actor=user.username,
                                        now=datetime.now(timezone.utc), key=key or None)
                return session, r, task
            except BaseException:
                session.close()
                raise
        session, r, task = await run_in_threadpool(record)
        try:
            if task is not None:
                await start_redemption(client=client, task_queue=settings.task_queue, redemption_id=str(r.id),
                                       task=task, dealer_code=user.dealer.code)
                await run_in_threadpool(session.commit)
        finally:
            await run_in_threadpool(session.close)
    except DomainError as e:
        message, status_code = refusal(e, request)

        def render():
            with sessions() as s:
                return _points_page(request, s, user, message, status_code)
        return await run_in_threadpool(render)
    _ = translator(request)
    return back("/console/points", flash=_("Redeemed: HQ will fulfil it."))
