"""Points that buy something: the catalogue of the service rule file, a dealer's redemption taken from
its points ledger at once (the dealer's row locked, so two redemptions cannot spend the same points),
fulfilled by HQ (or finance for cash) in a human task, and given back when refused. The ledger's
unique key per source makes each entry exactly once, whatever retries happen above it.

A cash item (`cash: <rebate program>`) converts its points at that program's per-point value — the
rate settlements use for unconverted points — fixed when redeemed (`redemption_cash`) and booked on
the dealer's account (source `redemption_cash`, unique per redemption) when HQ fulfils it."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dealerflow.contracts import TaskResult, TaskSpec
from dealerflow.core.errors import Conflict, Invalid, NotFound, Unavailable
from dealerflow.models import Dealer, PointsEntry, Redemption, RedemptionCash
from dealerflow.shared import accounts, rulebook
from dealerflow.service.rules import ruleset as service_rules
from dealerflow.shared.notifications import notify

REDEEMED, REFUNDED = "redemption", "redemption_refund"
NAMESPACE = uuid.UUID("6b7c1f0e-2d4a-4c8e-9b1f-0a2e5d7c9f31")
TASK_SLA_SECONDS = 5 * 86400


def balance(session: Session, dealer_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                              .where(PointsEntry.dealer_id == dealer_id)))


def catalogue(session: Session, lang: str = "en") -> list[dict]:
    _, spec = service_rules(session)
    return [{"code": i.code, "title": i.title_in(lang), "points": i.points, "cash": i.cash}
            for i in (spec.catalogue or {}).values()]


def cash_rate(session: Session, program: str) -> tuple[int, Decimal]:
    """The deployed rebate program's version and per-point value (its `extras.points.per_point`)."""
    try:
        compiled = rulebook.active(session, program)
    except rulebook.UnknownRuleset:
        raise Unavailable(f"cash items convert at rebate program '{program}', which is not deployed") from None
    spec = compiled.rule_file.spec
    if compiled.rule_file.kind != "rebate" or getattr(spec, "point_value", None) is None:
        raise Unavailable(f"rebate program '{program}' has no per-point value (extras.points.per_point)")
    return compiled.version, spec.point_value


def redemption_id(dealer_id: int, key: str | None) -> uuid.UUID:
    """From the caller's Idempotency-Key: asking twice redeems once."""
    return uuid.uuid5(NAMESPACE, f"{dealer_id}:{key}") if key else uuid.uuid4()


def redeem(session: Session, *, dealer_id: int, item: str, actor: str, now: datetime,
           key: str | None = None) -> tuple[Redemption, TaskSpec | None]:
    """Take the item's points and ask its role to fulfil it; the TaskSpec is None when this key already
    redeemed (nothing new written)."""
    _, spec = service_rules(session)
    entry = spec.item(item or "")
    if entry is None:
        raise Invalid(f"unknown item {item!r}: one of {', '.join(spec.catalogue or {})}", field="item")
    session.execute(select(Dealer.id).where(Dealer.id == dealer_id).with_for_update())  # one spender at a time
    rid = redemption_id(dealer_id, key)
    existing = session.get(Redemption, rid)
    if existing is not None:
        return existing, None
    have = balance(session, dealer_id)
    if have < entry.points:
        raise Conflict(f"{entry.points} points needed, {have} available")
    cash = None
    if entry.cash:
        version, per_point = cash_rate(session, entry.cash)
        cash = RedemptionCash(redemption_id=rid, program=entry.cash, version=version, per_point=per_point,
                              amount=(entry.points * per_point).quantize(Decimal("0.01"), ROUND_HALF_UP))
    r = Redemption(id=rid, dealer_id=dealer_id, item=entry.code, title=entry.title, points=entry.points,
                   status="requested", task_id=uuid.uuid4(), requested_by=actor, created_at=now)
    session.add(r)
    session.flush()
    if cash is not None:
        session.add(cash)
    session.execute(insert(PointsEntry).values(dealer_id=dealer_id, points=-entry.points,
                                               reason=f"Redeemed: {entry.title}", source_type=REDEEMED,
                                               source_id=str(rid)).on_conflict_do_nothing(constraint="points_once"))
    task = TaskSpec(task_id=str(r.task_id), kind="points_redemption", title=f"Fulfil: {entry.title}",
                    subject_type="redemption", subject_id=str(rid), assignee_role=entry.fulfilled_by,
                    outcomes=["fulfilled", "refused"], sla_seconds=TASK_SLA_SECONDS, dealer_id=dealer_id,
                    payload={"item": entry.code, "points": entry.points,
                             **({"cash": f"{cash.amount:.2f}", "per_point": f"{cash.per_point:.2f}",
                                 "program": cash.program} if cash is not None else {})})
    return r, task


def settle(session: Session, redemption_id: uuid.UUID, result: TaskResult, now: datetime) -> str:
    """The person's answer: fulfilled, or refused with the points given back — once."""
    r = session.scalars(select(Redemption).where(Redemption.id == redemption_id).with_for_update()).first()
    if r is None:
        raise NotFound("redemption not found")
    if r.status != "requested":
        return r.status
    r.status, r.decided_by, r.decided_at, r.note = result.outcome, result.actor, now, result.comment or None
    cash = session.get(RedemptionCash, r.id)
    if result.outcome == "fulfilled" and cash is not None:
        accounts.book(session, [accounts.entry(
            dealer_id=r.dealer_id, kind="points", amount=cash.amount, value_date=accounts.business_date(now),
            source_type="redemption_cash", source_id=str(r.id),
            note=f"Cash rebate for {r.points} points at ¥{cash.per_point:.2f} ({cash.program} v{cash.version}):"
                 f" {r.title}")])
    if result.outcome == "refused":
        session.execute(insert(PointsEntry).values(dealer_id=r.dealer_id, points=r.points,
                                                   reason=f"Refunded: {r.title}", source_type=REFUNDED,
                                                   source_id=str(r.id)).on_conflict_do_nothing(constraint="points_once"))
    notify(session, dealer_id=r.dealer_id, kind="points",
           title=f"{r.title}: {result.outcome}" + (f" ({r.points} points returned)" if result.outcome == "refused" else ""),
           link="/console/policy-tasks#points", dedup_key=f"redemption:{r.id}")
    return r.status


def redemptions_of(session: Session, dealer_id: int, limit: int = 100) -> list[Redemption]:
    return list(session.scalars(select(Redemption).where(Redemption.dealer_id == dealer_id)
                                .order_by(Redemption.created_at.desc()).limit(limit)))


__all__ = ["balance", "catalogue", "redeem", "settle", "redemptions_of"]
