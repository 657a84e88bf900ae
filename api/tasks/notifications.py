from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import or_, select

from dealerflow.models import Notification

from api.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("")
def my_notifications(session: SessionDep, user: CurrentUser, limit: int = 50):
    mine = [Notification.recipient_user_id == user.id]
    if user.role == "dealer":
        mine.append(Notification.recipient_dealer_id == user.dealer_id)
    else:
        mine.append(Notification.recipient_role == user.role)
    rows = session.scalars(select(Notification).where(or_(*mine))
                           .order_by(Notification.id.desc()).limit(min(limit, 200)))
    return [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
             "created_at": n.created_at.isoformat(), "read": n.read_at is not None} for n in rows]
