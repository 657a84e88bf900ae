"""Console pages of tiering: a dealer's tier, scorecard and benefits (its own, or any dealer's for
staff); HQ's distribution by tier and region, the runs and the silent dealers. Thin: the same read
models as the JSON routes."""
from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from dealerflow.models import TieringRun

from api import i18n
from api.paging import SIZE, page_number, paging
from api.pages import require, translator, ConsoleUser, page
from api.deps import SessionDep
from api.tiering.views import dealer_tier, distribution, run_read, silent_overview, visible_dealer

router = APIRouter(prefix="/console", include_in_schema=False)
HQ = ("hq", "admin")


@router.get("/tier")
def tier_page(request: Request, session: SessionDep, user: ConsoleUser, dealer: str | None = None):
    """A dealer's own tier; staff look a dealer up by code."""
    code = user.dealer.code if user.role == "dealer" else (dealer or "").strip()
    target = visible_dealer(session, user, code) if code else None
    if code and target is None:
        _ = translator(request)
        return page(request, "tier.html", user, 404, tier=None, code=code, error=_("No dealer %(code)s you may see.", code=code))
    lang = i18n.locale_of(request)
    return page(request, "tier.html", user, tier=dealer_tier(session, target, lang) if target else None, code=code)


@router.get("/tiering")
def tiering_page(request: Request, session: SessionDep, user: ConsoleUser, month: str | None = None):
    require(user, *HQ, "account_manager")
    runs = session.scalars(select(TieringRun).order_by(TieringRun.month.desc()).limit(12)).all() \
        if user.role in HQ else []
    chosen = next((r for r in runs if r.month == month), runs[0] if runs else None)
    # The silent dealers a page at a time: the total is the overview's count of those still silent.
    asked = page_number(request)
    silent = silent_overview(session, user, limit=SIZE, offset=(asked - 1) * SIZE)
    pager = paging(request, silent["silent"], month=month or "")
    if pager.number != asked:  # asked past the last page: the last page
        silent = silent_overview(session, user, limit=pager.limit, offset=pager.offset)
    return page(request, "tiering.html", user, spread=distribution(session) if user.role in HQ else None,
                runs=runs, run=run_read(session, chosen) if chosen else None, silent=silent, pager=pager)
