"""Read models of tiering: a dealer's tier with its scorecard, why, benefits and history; the
distribution by tier and region; a run and its changes; silent dealers and the activation rate."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from dealerflow.tiering import runs as tiering
from dealerflow.models import Dealer, HumanTask, SilentDealer, TierScore, TieringRun, User

from api.scope import sees_dealer

HISTORY = 24  # months of a dealer's history shown
CHANGES_LIMIT = 500


def visible_dealer(session: Session, user: User, code: str) -> Dealer | None:
    """The dealer, if the caller may see it (api/scope.py)."""
    dealer = session.scalars(select(Dealer).where(Dealer.code == code)).first()
    return dealer if dealer is not None and sees_dealer(user, dealer) else None


def _spec(session: Session):
    try:
        return tiering.ruleset(session)[1]
    except tiering.TieringError:
        return None


def tiers_shown(spec, lang: str = "en") -> list[dict]:
    """The tiers with their titles and benefits in a language (where the rule file gives both)."""
    return [{"name": t.name, "title": t.title_in(lang), "min_score": None if t.min_score is None else str(t.min_score),
             "benefits": list(t.benefits_in(lang))} for t in spec.tiers] if spec else []


def dealer_tier(session: Session, dealer: Dealer, lang: str = "en") -> dict:
    spec = _spec(session)
    tier = spec.tier(dealer.tier) if spec else None
    rows = session.scalars(select(TierScore).where(TierScore.dealer_id == dealer.id)
                           .order_by(TierScore.run_month.desc()).limit(HISTORY)).all()
    latest = rows[0] if rows else None
    scorecard = None
    if latest is not None:
        x = latest.explanation
        scorecard = {"month": latest.run_month, "score": f"{latest.score:.2f}", "scored_tier": x.get("scored_tier"),
                     "proposed_tier": latest.new_tier, "status": latest.status, "override": x.get("override"),
                     "dimensions": x.get("dimensions", []), "figures": x.get("figures", {}),
                     "tags": x.get("tags"), "reason": x.get("reason", ""), "ruleset": x.get("ruleset"),
                     "version": x.get("version"), "file": x.get("file")}
    episode = session.scalars(select(SilentDealer).where(SilentDealer.dealer_id == dealer.id)
                              .order_by(SilentDealer.flagged_at.desc()).limit(1)).first()
    return {
        "dealer": dealer.code, "name": dealer.name, "region": dealer.region, "level": dealer.level,
        "tier": dealer.tier, "tier_title": tier.title_in(lang) if tier else dealer.tier, "tags": sorted(dealer.tags or ()),
        "benefits": list(tier.benefits_in(lang)) if tier else [], "tiers": tiers_shown(spec, lang), "scorecard": scorecard,
        "history": [{"month": r.run_month, "score": f"{r.score:.2f}", "from": r.old_tier, "to": r.new_tier,
                     "status": r.status, "override": r.override, "tags_before": r.old_tags, "tags_after": r.new_tags,
                     "decided_by": r.decided_by} for r in rows],
        "silent": _episode(episode) if episode else None,
        "applied": applied_benefits(session, dealer.tier),
    }


def applied_benefits(session: Session, tier: str) -> dict | None:
    """The tier's benefits the platform applies, machine-readable, from the service rule file: the
    request targets (working time) of the tier and how often its account manager makes contact."""
    from dealerflow.service.rules import ruleset as service_rules
    from dealerflow.core.errors import Unavailable
    try:
        _, spec = service_rules(session)
    except Unavailable:
        return None
    default = spec.target("default", tier)
    return {"request_targets": {"response_seconds": default.response, "resolution_seconds": default.resolution,
                                "by_category": {c: {"response_seconds": spec.target(c, tier).response,
                                                    "resolution_seconds": spec.target(c, tier).resolution}
                                                for c in spec.categories}},
            "working_hours_per_day": spec.calendar.day_seconds // 3600,
            "contact_every_days": spec.cadence[tier] // 86400 if tier in spec.cadence else None}


def _episode(e: SilentDealer) -> dict:
    return {"silent_since": e.silent_since, "flagged_at": e.flagged_at, "month": e.run_month,
            "activated_at": e.activated_at,
            "activation_order_id": str(e.activation_order_id) if e.activation_order_id else None,
            "actions": e.actions, "task_id": str(e.task_id) if e.task_id else None}


def distribution(session: Session) -> dict:
    """How many dealers each tier holds, in each region and in all."""
    spec = _spec(session)
    by_region: dict[str, dict] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for region, tier, n in session.execute(select(Dealer.region, Dealer.tier, func.count())
                                           .group_by(Dealer.region, Dealer.tier).order_by(Dealer.region)):
        by_region[region][tier] = n
        totals[tier] += n
    names = [t.name for t in spec.tiers] if spec else []
    names += sorted(t for t in totals if t not in names)
    last = session.scalars(select(TieringRun).order_by(TieringRun.month.desc()).limit(1)).first()
    return {"tiers": names, "by_tier": {t: totals.get(t, 0) for t in names}, "total": sum(totals.values()),
            "by_region": {r: {t: counts.get(t, 0) for t in names} for r, counts in by_region.items()},
            "last_run": {"month": last.month, "stage": last.stage} if last else None}


def run_read(session: Session, run: TieringRun, *, with_changes: bool = True) -> dict:
    out = {"month": run.month, "stage": run.stage, "as_of": run.as_of, "ruleset_version": run.ruleset_version,
           "workflow_id": run.workflow_id, "started_by": run.started_by, "started_at": run.started_at,
           "scored_at": run.scored_at, "closed_at": run.closed_at, "approval": run.approval, "totals": run.totals}
    if with_changes:
        rows = session.execute(select(Dealer.code, Dealer.region, TierScore)
                               .join(Dealer, Dealer.id == TierScore.dealer_id)
                               .where(TierScore.run_month == run.month, TierScore.status != "unchanged")
                               .order_by(Dealer.code).limit(CHANGES_LIMIT)).all()
        out["changes"] = [{"dealer": code, "region": region, "score": f"{s.score:.2f}", "from": s.old_tier,
                           "to": s.new_tier, "override": s.override, "status": s.status, "tags_before": s.old_tags,
                           "tags_after": s.new_tags, "decided_by": s.decided_by, "reason": s.explanation.get("reason")}
                          for code, region, s in rows]
    return out


def silent_overview(session: Session, user: User, *, limit: int = 500, offset: int = 0) -> dict:
    """Dealers flagged silent and not yet ordering again, and how many flagged dealers came back:
    all of them for HQ, an account manager's own for an account manager."""
    scope = SilentDealer.account_manager == user.username if user.role == "account_manager" else true()
    by_month = session.execute(select(SilentDealer.run_month, func.count(), func.count(SilentDealer.activated_at))
                               .where(scope).group_by(SilentDealer.run_month).order_by(SilentDealer.run_month)).all()
    flagged, activated = sum(r[1] for r in by_month), sum(r[2] for r in by_month)
    rows = session.execute(select(SilentDealer, Dealer.code, Dealer.name, Dealer.region, Dealer.tier, HumanTask.status)
                           .join(Dealer, Dealer.id == SilentDealer.dealer_id)
                           .outerjoin(HumanTask, HumanTask.id == SilentDealer.task_id)
                           .where(scope, SilentDealer.activated_at.is_(None))
                           .order_by(SilentDealer.silent_since, Dealer.code, SilentDealer.id)
                           .limit(limit).offset(offset)).all()
    return {
        "flagged": flagged, "activated": activated, "silent": flagged - activated,
        "activation_rate": _rate(activated, flagged),
        "by_month": [{"month": m, "flagged": f, "activated": a, "activation_rate": _rate(a, f)}
                     for m, f, a in by_month],
        "dealers": [{"dealer": code, "name": name, "region": region, "tier": tier, "account_manager": e.account_manager,
                     "task_status": status, **_episode(e)} for e, code, name, region, tier, status in rows],
    }


def _rate(part: int, whole: int) -> str | None:
    return f"{Decimal(part) / whole:.4f}" if whole else None
