from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from dealerflow.models import Notification
from dealerflow.shared.notifications import addressed_to, unread_count

from api.deps import CurrentUser, SessionDep
from api.tasks.schemas import NotificationRead

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

__all__ = ["router", "unread_count", "notification_read"]


def notification_read(n: Notification) -> dict:
    return {"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
            "created_at": n.created_at.isoformat(), "read": n.read_at is not None}


@router.get("", response_model=list[NotificationRead])
def my_notifications(session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    rows = session.scalars(select(Notification).where(addressed_to(user))
                           .order_by(Notification.id.desc()).limit(limit))
    return [notification_read(n) for n in rows]
