"""Read models of channel inventory: a day's health per dealer × sku with its advice, advice with
its explanation, drafts and forecasts — each limited to what the caller may see (api/scope.py)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from dealerflow.models import (DemandForecast, Dealer, InventoryAdvice, InventoryHealth, Product,
                               ReplenishmentDraft, User)
from api.scope import dealer_filter


def latest_day(session: Session, user: User) -> date | None:
    q = select(func.max(InventoryHealth.day))
    cond = dealer_filter(user, InventoryHealth.dealer_id)
    return session.scalar(q if cond is None else q.where(cond))


def _where(q, user, column, *, dealer=None, region=None, sku=None):
    cond = dealer_filter(user, column)
    if cond is not None:
        q = q.where(cond)
    if dealer:
        q = q.where(Dealer.code == dealer)
    if region:
        q = q.where(Dealer.region == region)
    if sku:
        q = q.where(Product.sku == sku)
    return q


def health(session: Session, user: User, *, day: date | None = None, dealer=None, region=None, sku=None,
           only_advised: bool = False, limit: int = 50, offset: int = 0) -> tuple[date | None, list[dict], int]:
    if day is None:  # the latest day measured for what is asked (a region's own run may be older)
        day = session.scalar(_where(select(func.max(InventoryHealth.day))
                                    .join(Dealer, Dealer.id == InventoryHealth.dealer_id)
                                    .join(Product, Product.id == InventoryHealth.product_id),
                                    user, InventoryHealth.dealer_id, dealer=dealer, region=region, sku=sku))
    if day is None:
        return None, [], 0
    advice = (select(func.array_agg(InventoryAdvice.action))
              .where(InventoryAdvice.day == InventoryHealth.day, InventoryAdvice.dealer_id == InventoryHealth.dealer_id,
                     InventoryAdvice.product_id == InventoryHealth.product_id).scalar_subquery())
    q = (select(InventoryHealth, Dealer.code, Dealer.name, Product.sku, Product.name.label("product"),
                advice.label("advice"))
         .join(Dealer, Dealer.id == InventoryHealth.dealer_id).join(Product, Product.id == InventoryHealth.product_id)
         .where(InventoryHealth.day == day))
    q = _where(q, user, InventoryHealth.dealer_id, dealer=dealer, region=region, sku=sku)
    if only_advised:
        q = q.where(advice.is_not(None))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.execute(q.order_by(InventoryHealth.turnover_days.desc().nulls_first(), Dealer.code, Product.sku)
                           .limit(limit).offset(offset)).all()
    return day, [_health(r) for r in rows], total


def _text(value):
    return None if value is None else str(value)


def _health(r) -> dict:
    h = r.InventoryHealth
    return dict(day=h.day, dealer_code=r.code, dealer_name=r.name, region=h.region, sku=r.sku, product=r.product,
                on_hand=h.on_hand, in_transit=h.in_transit, source=h.source, report_day=h.report_day,
                report_age_days=h.report_age_days, sold=h.sold, daily_sales=str(h.daily_sales),
                daily_demand=str(h.daily_demand), demand_source=h.demand_source,
                turnover_days=_text(h.turnover_days), cover_days=_text(h.cover_days),
                sell_through_rate=_text(h.sell_through_rate), stock_value=h.stock_value, slow_value=h.slow_value,
                stock_age_days=h.stock_age_days, orders_by_month=list(h.orders_by_month),
                advice=sorted(r.advice or []))


def advice(session: Session, user: User, *, day: date | None = None, dealer=None, region=None, sku=None,
           action=None, severity=None, status=None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    q = (select(InventoryAdvice, Dealer.code, Dealer.name, Product.sku, Product.name.label("product"))
         .join(Dealer, Dealer.id == InventoryAdvice.dealer_id).join(Product, Product.id == InventoryAdvice.product_id))
    q = _where(q, user, InventoryAdvice.dealer_id, dealer=dealer, region=region, sku=sku)
    if day:
        q = q.where(InventoryAdvice.day == day)
    else:
        other = aliased(InventoryAdvice)
        latest = (select(func.max(other.day)).where(other.dealer_id == InventoryAdvice.dealer_id)
                  .correlate(InventoryAdvice).scalar_subquery())
        q = q.where(InventoryAdvice.day == latest)
    for column, value in ((InventoryAdvice.action, action), (InventoryAdvice.severity, severity),
                          (InventoryAdvice.status, status)):
        if value:
            q = q.where(column == value)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.execute(q.order_by(InventoryAdvice.day.desc(), Dealer.code, Product.sku, InventoryAdvice.action)
                           .limit(limit).offset(offset)).all()
    return [dict(id=r.InventoryAdvice.id, day=r.InventoryAdvice.day, dealer_code=r.code, dealer_name=r.name,
                 sku=r.sku, product=r.product, action=r.InventoryAdvice.action, severity=r.InventoryAdvice.severity,
                 quantity=r.InventoryAdvice.quantity, status=r.InventoryAdvice.status,
                 reason=r.InventoryAdvice.explanation.get("reason", ""), explanation=r.InventoryAdvice.explanation)
            for r in rows], total


def drafts(session: Session, user: User, *, status=None, limit: int = 50, offset: int = 0) -> list[dict]:
    q = select(ReplenishmentDraft, Dealer.code).join(Dealer, Dealer.id == ReplenishmentDraft.dealer_id)
    cond = dealer_filter(user, ReplenishmentDraft.dealer_id)
    if cond is not None:
        q = q.where(cond)
    if status:
        q = q.where(ReplenishmentDraft.status == status)
    rows = session.execute(q.order_by(ReplenishmentDraft.day.desc(), Dealer.code).limit(limit).offset(offset)).all()
    return [draft_read(d, code) for d, code in rows]


def draft_read(d: ReplenishmentDraft, code: str) -> dict:
    return dict(id=str(d.id), dealer_code=code, day=d.day, automatic=d.automatic, status=d.status,
                lines=[{"sku": l["sku"], "quantity": l["quantity"], "advice_id": l.get("advice_id")} for l in d.lines],
                order_id=str(d.order_id) if d.order_id else None, placed_at=d.placed_at)


def forecasts(session: Session, user: User, *, scope=None, region=None, sku=None, limit: int = 50,
              offset: int = 0) -> list[dict]:
    latest = select(func.max(DemandForecast.fitted_on)).scalar_subquery()
    q = (select(DemandForecast, Product.sku, Dealer.code)
         .join(Product, Product.id == DemandForecast.product_id)
         .outerjoin(Dealer, Dealer.id == DemandForecast.dealer_id).where(DemandForecast.fitted_on == latest))
    if user.role == "dealer":
        q = q.where(DemandForecast.dealer_id == user.dealer_id)
    elif user.role in ("account_manager", "region_manager"):
        cond = dealer_filter(user, Dealer.id)
        q = q.where(cond) if user.role == "account_manager" else q.where(DemandForecast.region == user.region)
    if scope:
        q = q.where(DemandForecast.scope == scope)
    if region:
        q = q.where(DemandForecast.region == region)
    if sku:
        q = q.where(Product.sku == sku)
    rows = session.execute(q.order_by(DemandForecast.scope, DemandForecast.region, Product.sku)
                           .limit(limit).offset(offset)).all()
    return [dict(scope=f.scope, region=f.region, dealer_code=code, sku=s, fitted_on=f.fitted_on, model=f.model,
                 intermittent=f.intermittent, horizon_days=f.horizon_days, quantity=str(f.quantity),
                 mase=_text(f.mase), baseline_mase=_text(f.baseline_mase), actual=_text(f.actual))
            for f, s, code in rows]


def hq_overview(session: Session, user: User, *, day: date | None = None, by: str = "region",
                region: str | None = None) -> dict:
    """HQ's figures of a day by region or by product (of one region when asked): stock and slow-moving
    value, turnover of the whole (stock ÷ daily sales), sell-through rate, advice issued and reorders
    accepted; the 50 groups with the most slow-moving value."""
    day = day or latest_day(session, user)
    if day is None:
        return {"day": None, "rows": [], "suggestions": {}}
    key = InventoryHealth.region if by == "region" else Product.sku
    q = (select(key.label("key"), func.count().label("pairs"), func.sum(InventoryHealth.on_hand).label("units"),
                func.sum(InventoryHealth.stock_value).label("value"), func.sum(InventoryHealth.slow_value).label("slow"),
                func.sum(InventoryHealth.daily_sales).label("daily"), func.sum(InventoryHealth.sold).label("sold"),
                func.sum(InventoryHealth.on_hand + InventoryHealth.sold).label("available"))
         .join(Product, Product.id == InventoryHealth.product_id).where(InventoryHealth.day == day))
    cond = dealer_filter(user, InventoryHealth.dealer_id)
    if cond is not None:
        q = q.where(cond)
    if region:
        q = q.where(InventoryHealth.region == region)
    rows = []
    for r in session.execute(q.group_by(key).order_by(func.sum(InventoryHealth.slow_value).desc()).limit(50)):
        rows.append(dict(key=r.key, pairs=r.pairs, units=r.units, value=r.value, slow=r.slow,
                         slow_share=(r.slow / r.value) if r.value else None,
                         turnover=(r.units / r.daily) if r.daily else None,
                         rate=(r.sold / r.available) if r.available else None))
    issued = select(InventoryAdvice.action, InventoryAdvice.status, func.count()).where(InventoryAdvice.day == day)
    acond = dealer_filter(user, InventoryAdvice.dealer_id)
    if acond is not None:
        issued = issued.where(acond)
    counts: dict[str, dict[str, int]] = {}
    for action, status, n in session.execute(issued.group_by(InventoryAdvice.action, InventoryAdvice.status)):
        counts.setdefault(action, {})[status] = n
    reorders = counts.get("reorder", {})
    return {"day": day, "rows": rows, "advice": {a: sum(s.values()) for a, s in counts.items()},
            "suggestions": {"issued": sum(reorders.values()), "drafted": reorders.get("drafted", 0),
                            "ordered": reorders.get("ordered", 0)}}
