"""Who may see which dealer's data — the one place it is decided.

| role | sees the data of |
|---|---|
| dealer | its own dealer (orders, payments and returns: also its level-2 dealers') |
| account_manager | the dealers whose `account_manager` is the user's username |
| region_manager | the dealers of the user's `region` |
| hq, admin, finance, credit_manager | every dealer |

Out of scope is a 404 for one thing (another dealer's order does not exist for you) and filtered
out of a list. Role gates (who may act) stay on the routes; this is only who may see what."""
from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, or_, select

from dealerflow.models import Dealer, Order, User

ALL_DEALERS = ("hq", "admin", "finance", "credit_manager")
SCOPED_STAFF = ("account_manager", "region_manager")
STAFF = ALL_DEALERS + SCOPED_STAFF


def parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def dealer_filter(user: User, column, *, level_two: bool = False) -> ColumnElement | None:
    """A condition on `column` (a dealer id) keeping the rows of the dealers `user` may see; None:
    every dealer. `level_two`: a dealer also sees its level-2 dealers' (orders, payments, returns)."""
    if user.role in ALL_DEALERS:
        return None
    if user.role == "dealer":
        if level_two:
            return or_(column == user.dealer_id,
                       column.in_(select(Dealer.id).where(Dealer.parent_id == user.dealer_id)))
        return column == user.dealer_id
    if user.role == "account_manager":
        return column.in_(select(Dealer.id).where(Dealer.account_manager == user.username))
    if user.role == "region_manager" and user.region:
        return column.in_(select(Dealer.id).where(Dealer.region == user.region))
    return false()


def scoped(q, user: User, column, *, level_two: bool = False):
    """`q` limited to the dealers `user` may see."""
    condition = dealer_filter(user, column, level_two=level_two)
    return q if condition is None else q.where(condition)


def sees_dealer(user: User, dealer: Dealer | None) -> bool:
    """Whether `user` may see this dealer's data (one dealer already loaded: no query)."""
    if dealer is None:
        return user.role in ALL_DEALERS
    if user.role in ALL_DEALERS:
        return True
    if user.role == "dealer":
        return dealer.id == user.dealer_id
    if user.role == "account_manager":
        return dealer.account_manager == user.username
    if user.role == "region_manager":
        return user.region is not None and dealer.region == user.region
    return False


def dealer_scope(user: User):
    """The orders a caller may see: a dealer its own and its level-2 dealers'; staff by their scope."""
    return dealer_filter(user, Order.dealer_id, level_two=True)
