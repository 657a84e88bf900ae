"""Rebate programs as a dealer sees them: progress on each ladder this period."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter
from sqlalchemy import select

from dealerflow.core.errors import Forbidden, NotFound
from dealerflow.shared import accounts
from dealerflow.rebates import programs as rebates
from dealerflow.models import Dealer

from api.errors import responses
from api.deps import CurrentUser, SessionDep
from api.rebates.schemas import RebateProgress
from api.scope import STAFF, sees_dealer

router = APIRouter(prefix="/api/v1/rebates", tags=["rebates"])


@router.get("/progress", response_model=list[RebateProgress], responses=responses(404))
def progress(session: SessionDep, user: CurrentUser, dealer: str | None = None):
    """The caller's progress (a dealer), or a dealer's by code (staff, within their scope)."""
    if user.role == "dealer":
        target = session.get(Dealer, user.dealer_id)
    elif user.role in STAFF and dealer:
        target = session.scalars(select(Dealer).where(Dealer.code == dealer)).first()
    else:
        if user.role in STAFF:
            raise NotFound("give ?dealer=CODE")
        raise Forbidden("rebate progress is for dealers and staff")
    if target is None or not sees_dealer(user, target):
        raise NotFound("dealer not found")
    return rebates.progress(session, target, today=accounts.business_date(datetime.now(timezone.utc)))
