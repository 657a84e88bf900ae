"""The facts about a dealer that dealer-facing rule files read (policy targeting, later rebate
eligibility and tiering): one place maps database columns to fact names."""
from __future__ import annotations

from sqlalchemy import select

from dealerflow.shared.credit_points import balance_of
from dealerflow.models import Dealer

COLUMNS = (Dealer.id, Dealer.code, Dealer.region, Dealer.level, Dealer.tier, Dealer.tags, Dealer.channel,
           balance_of(Dealer.id).label("credit_points"), Dealer.cooperation_since)


def select_facts():
    """A query of every dealer's fact columns, in id order (stream it: thousands of rows)."""
    return select(*COLUMNS).order_by(Dealer.id)


def facts_of(row) -> dict:
    return {"dealer.code": row.code, "dealer.region": row.region, "dealer.level": row.level,
            "dealer.tier": row.tier, "dealer.tags": list(row.tags or ()), "dealer.channel": row.channel,
            "dealer.credit_points": row.credit_points}
