"""The care page of an account manager, phone first: dealers whose contact is due or overdue, each with
a form to record the contact; today's birthdays and anniversaries."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError

from dealerflow.care import contacts
from dealerflow.core.errors import DomainError, NotFound
from dealerflow.models import ContactTask, Dealer
from dealerflow.shared.accounts import business_date

from api.care.routes import record_contact
from api.care.schemas import ContactCreate
from api.deps import SessionDep
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
