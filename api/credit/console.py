"""Console pages of credit: a dealer's account (its own; a level-1 dealer its level-2 dealers'; staff
any dealer in scope), and the scoring runs with an on-demand start for credit managers. Thin: the
same read models and services as the JSON routes."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from sqlalchemy import select

from dealerflow.core.errors import DomainError
from dealerflow.models import CreditRun, CreditScore, Dealer

from api.credit.temporal import start_scoring
from api.credit.views import account, run_read, visible_dealer
from api.deps import SessionDep, TemporalDep
from api.pages import ConsoleUser, back, page, refusal, require, translator
from api.paging import SIZE, page_number, paging

router = APIRouter(prefix="/console", include_in_schema=False)
RUNNERS = ("credit_manager", "admin")
READERS = RUNNERS + ("hq", "finance")


@router.get("/account")
def account_page(request: Request, session: SessionDep, user: ConsoleUser, dealer: str | None = None):
    """The dealer's own account by default; a level-1 dealer picks one of its level-2 dealers, staff
    look a dealer up by code."""
    own = user.dealer.code if user.role == "dealer" else ""
    code = (dealer or "").strip() or own
    target = visible_dealer(session, user, code) if code else None
    if target is None and user.role == "dealer":  # a dealer it may not see: its own account, whatever it names
        code, target = own, visible_dealer(session, user, own)
    if code and target is None:
        _ = translator(request)
        return page(request, "account.html", user, 404, account=None, code=code,
                    error=_("No dealer %(code)s you may see.", code=code))
    if target is None:
        return page(request, "account.html", user, account=None, code=code)
    asked = page_number(request)
    shown = account(session, target, limit=SIZE, offset=(asked - 1) * SIZE)
    pager = paging(request, shown["entries_total"], dealer=code if code != own else "")
    if pager.number != asked:  # past the last page: the last page
        shown = account(session, target, limit=pager.limit, offset=pager.offset)
    children = session.execute(select(Dealer.code, Dealer.name).where(Dealer.parent_id == user.dealer_id)
                               .order_by(Dealer.code)).all() if user.role == "dealer" else []
    return page(request, "account.html", user, account=shown, code=code, pager=pager, children=children)


@router.get("/credit")
def credit_page(request: Request, session: SessionDep, user: ConsoleUser, month: str | None = None):
    require(user, *READERS)
    runs = session.scalars(select(CreditRun).order_by(CreditRun.month.desc()).limit(12)).all()
    chosen = next((r for r in runs if r.month == month), runs[0] if runs else None)
    waiting = []
    if chosen is not None:
        waiting = session.execute(
            select(Dealer.code, Dealer.name, CreditScore.old_limit, CreditScore.proposed_limit, CreditScore.new_rating,
                   CreditScore.approvals, CreditScore.approvers)
            .join(Dealer, Dealer.id == CreditScore.dealer_id)
            .where(CreditScore.run_month == chosen.month, CreditScore.status == "awaiting_approval")
            .order_by(Dealer.code).limit(SIZE)).all()
    return page(request, "credit.html", user, runs=[run_read(r) for r in runs],
                run=run_read(chosen) if chosen else None, waiting=waiting, may_run=user.role in RUNNERS)


@router.post("/credit/runs")
async def start_run(request: Request, client: TemporalDep, user: ConsoleUser):
    require(user, *RUNNERS)
    _ = translator(request)
    try:
        started = await start_scoring(client=client, task_queue=request.app.state.settings.task_queue,
                                      sessions=request.app.state.sessions, month=None, actor=user.username,
                                      now=datetime.now(timezone.utc))
    except DomainError as e:
        return back("/console/credit", flash=refusal(e, request)[0], kind="error")
    done = _("Credit scoring of %(month)s started.", month=started.month) if started.action == "started" \
        else _("Credit scoring of %(month)s has already run.", month=started.month)
    return back(f"/console/credit?month={started.month}", flash=done)
