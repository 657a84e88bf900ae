"""Read models of anti-diversion cases, with the caller's dealer scope applied: a dealer sees its own
cases only (another dealer's is a 404); staff the cases of their dealers (api/scope.py)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealerflow.contracts.diversion import workflow_id_for
from dealerflow.models import Dealer, DiversionAlert, DiversionCase, Product, ProductCode, Scan, User

from api.scope import dealer_filter

CASE_ALERTS = 100  # the newest alerts shown with a case


def case_scope(user: User):
    """The cases of the dealers the caller may see (api/scope.py); a case with no dealer is for
    staff who see every dealer."""
    return dealer_filter(user, DiversionCase.dealer_id)


def visible_case(session: Session, user: User, case_id: str) -> DiversionCase | None:
    if not case_id.isdigit() or len(case_id) > 18:
        return None
    q = select(DiversionCase).where(DiversionCase.id == int(case_id))
    scope = case_scope(user)
    return session.scalars(q if scope is None else q.where(scope)).first()


def _summary(case: DiversionCase, dealer_code: str | None, dealer_name: str | None, sku: str | None,
             figures: dict) -> dict:
    return {
        "id": case.id, "status": case.status, "severity": case.severity, "region": case.region,
        "dealer_code": dealer_code, "dealer_name": dealer_name, "sku": sku,
        "alerts": sum(figures.get("triggers", {}).values()), "triggers": figures.get("triggers", {}),
        "first_alert_at": case.first_alert_at, "last_alert_at": figures.get("last_alert_at"),
        "opened_at": case.opened_at, "points": case.points, "resolved_at": case.resolved_at,
        "workflow_id": workflow_id_for(case.id),
    }


def _figures(session: Session, case_ids: list[int]) -> dict[int, dict]:
    """Per case: its alerts by trigger and the latest, in one query."""
    out: dict[int, dict] = {}
    if case_ids:
        for case_id, trigger, n, last in session.execute(
                select(DiversionAlert.case_id, DiversionAlert.trigger, func.count(), func.max(DiversionAlert.at))
                .where(DiversionAlert.case_id.in_(case_ids)).group_by(DiversionAlert.case_id, DiversionAlert.trigger)):
            figures = out.setdefault(case_id, {"triggers": {}, "last_alert_at": last})
            figures["triggers"][trigger] = n
            figures["last_alert_at"] = max(figures["last_alert_at"], last)
    return out


def _case_filters(q, user: User, *, region: str | None, status: str | None, dealer: str | None):
    """The cases the caller may see (api/scope.py), filtered: the same for a page and for its count."""
    scope = case_scope(user)
    if scope is not None:
        q = q.where(scope)
    if region:
        q = q.where(DiversionCase.region == region)
    if status:
        q = q.where(DiversionCase.status == status)
    if dealer:
        q = q.where(Dealer.code == dealer)
    return q


def case_list(session: Session, user: User, *, region: str | None, status: str | None, dealer: str | None,
              limit: int, offset: int) -> list[dict]:
    """Newest first, in two queries (the cases with dealer and product; their alert counts by trigger)."""
    q = (select(DiversionCase, Dealer.code, Dealer.name, Product.sku)
         .outerjoin(Dealer, Dealer.id == DiversionCase.dealer_id)
         .outerjoin(Product, Product.id == DiversionCase.product_id)
         .order_by(DiversionCase.id.desc()).limit(limit).offset(offset))
    rows = session.execute(_case_filters(q, user, region=region, status=status, dealer=dealer)).all()
    figures = _figures(session, [r[0].id for r in rows])
    return [_summary(c, code, name, sku, figures.get(c.id, {})) for c, code, name, sku in rows]


def case_read(session: Session, case: DiversionCase) -> dict:
    dealer = session.get(Dealer, case.dealer_id) if case.dealer_id else None
    product = session.get(Product, case.product_id) if case.product_id else None
    alerts = session.scalars(select(DiversionAlert).where(DiversionAlert.case_id == case.id)
                             .order_by(DiversionAlert.id.desc()).limit(CASE_ALERTS)).all()
    return {
        **_summary(case, dealer.code if dealer else None, dealer.name if dealer else None,
                   product.sku if product else None, _figures(session, [case.id]).get(case.id, {})),
        "product_name": product.name if product else None,
        "task_id": str(case.task_id) if case.task_id else None, "resolved_by": case.resolved_by,
        "resolution": case.resolution, "assessment": case.assessment,
        "recent_alerts": [{"trigger": a.trigger, "scan_id": a.scan_id, "code": a.code, "region": a.region,
                           "price": None if a.price is None else f"{a.price:.2f}",
                           "guide_price": None if a.guide_price is None else f"{a.guide_price:.2f}",
                           "units": a.units, "baseline": None if a.baseline is None else f"{a.baseline:.2f}",
                           "at": a.at} for a in alerts],
    }


def case_count(session: Session, user: User, *, region: str | None, status: str | None) -> int:
    q = select(func.count()).select_from(DiversionCase).outerjoin(Dealer, Dealer.id == DiversionCase.dealer_id)
    return session.scalar(_case_filters(q, user, region=region, status=status, dealer=None))


def case_evidence(session: Session, case: DiversionCase, *, limit: int = CASE_ALERTS) -> dict:
    """What HQ weighs before deciding: the scans behind the alerts (where, when, at what price, by
    whom), the codes' bindings (who shipped them, for which region and order) and the dealer's
    earlier cases with the points they cost."""
    codes = sorted({c for c in session.scalars(select(DiversionAlert.code).where(
        DiversionAlert.case_id == case.id, DiversionAlert.code.is_not(None)).limit(limit))})
    scans = session.scalars(select(Scan).where(Scan.code.in_(codes)).order_by(Scan.scanned_at.desc())
                            .limit(limit)).all() if codes else []
    bindings = session.scalars(select(ProductCode).where(ProductCode.code.in_(codes))).all() if codes else []
    history = []
    if case.dealer_id is not None:
        history = session.scalars(select(DiversionCase).where(DiversionCase.dealer_id == case.dealer_id,
                                                              DiversionCase.id != case.id)
                                  .order_by(DiversionCase.id.desc()).limit(20)).all()
    return {
        "scans": [{"scan_id": s.scan_id, "code": s.code, "region": s.region, "kind": s.kind, "scanned_at": s.scanned_at,
                   "price": None if s.price is None else f"{s.price:.2f}"} for s in scans],
        "codes": [{"code": b.code, "region": b.region, "order_id": str(b.order_id) if b.order_id else None,
                   "bound_at": b.bound_at} for b in bindings],
        "places": sorted({s.region for s in scans} | {a for a in [case.region] if a}),
        "history": [{"id": h.id, "status": h.status, "severity": h.severity, "region": h.region,
                     "points": h.points, "opened_at": h.opened_at} for h in history],
    }
