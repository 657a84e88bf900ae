"""Who may see what: a dealer sees its own rows only (another dealer's is a 404); staff see every dealer's."""
from __future__ import annotations

import uuid
from sqlalchemy import or_, select
from dealerflow.models import Dealer, Order, User


def parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def dealer_scope(user: User):
    """A dealer sees its own orders and, for a level-1 dealer, those of its level-2 dealers."""
    if user.role != "dealer":
        return None
    children = select(Dealer.id).where(Dealer.parent_id == user.dealer_id)
    return or_(Order.dealer_id == user.dealer_id, Order.dealer_id.in_(children))
