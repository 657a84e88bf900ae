from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import or_, select

from dealerflow.models import Notification

from api.deps import CurrentUser, SessionDep
from api.tasks.schemas import NotificationRead

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=list[NotificationRead])
def my_notifications(session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    mine = [Notification.recipient_user_id == user.id]
    if user.role == "dealer":
        mine.append(Notification.recipient_dealer_id == user.dealer_id)
    else:
        mine.append(Notification.recipient_role == user.role)
    rows = session.scalars(select(Notification).where(or_(*mine))
                           .order_by(Notification.id.desc()).limit(limit))
    return [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
             "created_at": n.created_at.isoformat(), "read": n.read_at is not None} for n in rows]
