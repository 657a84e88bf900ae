"""Read models of credit: a dealer's account (balance, entries, limit, headroom, rating and why,
credit points, open orders), read live from the ledger; the scoring runs."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.models import AccountEntry, CreditRun, CreditScore, Dealer, Order, User
from dealerflow.orders import credit
from dealerflow.shared import credit_points

from api.scope import scoped

OPEN = ("submitted", "pending_review", "approved", "shipped", "delivered")
ORDERS_SHOWN = 50


def visible_dealer(session: Session, user: User, code: str) -> Dealer | None:
    """The dealer, if the caller may see its account: a dealer its own and its level-2 dealers'."""
    return session.scalars(scoped(select(Dealer).where(Dealer.code == code), user, Dealer.id, level_two=True)).first()


def account(session: Session, dealer: Dealer, *, limit: int = 50, offset: int = 0) -> dict:
    owed = credit.owed_today(session, dealer)
    exposure = credit.credit_exposure(session, dealer, owed)
    entries_q = select(AccountEntry).where(AccountEntry.dealer_id == dealer.id)
    total = session.scalar(select(func.count()).select_from(entries_q.subquery()))
    entries = session.scalars(entries_q.order_by(AccountEntry.value_date.desc(), AccountEntry.id.desc())
                              .limit(limit).offset(offset)).all()
    orders = session.scalars(select(Order).where(Order.dealer_id == dealer.id, Order.status.in_(OPEN))
                             .order_by(Order.created_at.desc()).limit(ORDERS_SHOWN)).all()
    latest = session.scalars(select(CreditScore).where(CreditScore.dealer_id == dealer.id)
                             .order_by(CreditScore.run_month.desc()).limit(1)).first()
    headroom = dealer.credit_limit - exposure
    return {
        "dealer": dealer.code, "name": dealer.name, "level": dealer.level,
        "payment_terms_days": dealer.payment_terms_days, "balance": _money(owed.receivables),
        "overdue_days": owed.overdue_days, "held": _money(exposure - max(owed.receivables, Decimal("0.00"))),
        "credit_limit": _money(dealer.credit_limit), "headroom": _money(headroom), "over_limit": headroom < 0,
        "rating": dealer.rating, "scorecard": scorecard(latest), "credit_points": credit_points.balance(session, dealer.id),
        "entries": [{"id": e.id, "kind": e.kind, "amount": _money(e.amount), "value_date": e.value_date,
                     "source_type": e.source_type, "source_id": e.source_id, "note": e.note} for e in entries],
        "entries_total": total,
        "open_orders": [{"id": str(o.id), "status": o.status, "amount": _money(o.amount), "created_at": o.created_at}
                        for o in orders],
    }


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def scorecard(s: CreditScore | None) -> dict | None:
    if s is None:
        return None
    e = s.explanation
    return {"month": s.run_month, "score": f"{s.score:.2f}", "rating": s.new_rating, "previous_rating": s.old_rating,
            "override": s.override, "status": s.status, "limit": {"from": f"{s.old_limit:.2f}",
                                                                  "proposed": f"{s.proposed_limit:.2f}",
                                                                  "approvals": s.approvals},
            "reason": e.get("reason", ""), "ruleset": e.get("ruleset"), "version": e.get("version"),
            "matched": e.get("matched", []), "dimensions": e.get("dimensions", []), "figures": s.figures,
            "approvers": s.approvers}


def run_read(r: CreditRun) -> dict:
    return {"month": r.month, "stage": r.stage, "ruleset_version": r.ruleset_version, "as_of": r.as_of,
            "started_by": r.started_by, "started_at": r.started_at, "closed_at": r.closed_at, "totals": r.totals}


def now() -> datetime:
    return datetime.now(timezone.utc)
