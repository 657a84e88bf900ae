"""Console pages of rebate settlement. Dealers follow their rebate ladders and read, confirm or
dispute their statements (对账单); finance starts settlement runs and follows them with HQ. The
handlers are thin: they call the same functions as the JSON routes in api/routes/."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from dealerflow.core.errors import DomainError
from dealerflow.core.errors import NotFound
from dealerflow.contracts.rebates import workflow_id_for
from dealerflow.shared import accounts
from dealerflow.rebates import programs as rebates
from dealerflow.models import Dealer, SettlementRun, Statement

from api.pages import back, refusal, require, translator, ConsoleUser, page, templates
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.scope import sees_dealer
from api.rebates import temporal
from api.rebates.schemas import DisputeCreate, SettlementCreate
from api.rebates.views import LINES, run_read, statement_count, statement_list, statement_read, visible_statement
from api.paging import paging

router = APIRouter(prefix="/console", include_in_schema=False)
STAFF = ("finance", "hq", "admin")  # see every dealer's statements and the runs
STARTERS = ("finance", "admin")  # start settlement runs, as the JSON route allows
STATUSES = ("issued", "confirmed", "disputed")  # of current statements
# statement.html is also rendered by GET /api/v1/statements/{id}?format=html: its lines come from here.
templates.env.globals.update(statement_lines=LINES)


def _today():
    return accounts.business_date(datetime.now(timezone.utc))


# --- rebate ladders ----------------------------------------------------------------------------

def _ladder(p: dict) -> dict:
    """A program's progress, with how far the dealer has come from the bracket reached towards the
    next one, as a share 0–100 (100 at the top bracket)."""
    floors = {b["index"]: Decimal(b["from"]) for b in p["brackets"]}
    low, high = floors.get(p["bracket"], Decimal(0)), floors.get(p["next_bracket"])
    if high is None:
        share = 100
    elif high <= low:
        share = 0
    else:
        share = int(min(max((Decimal(p["measure"]) - low) / (high - low), Decimal(0)), Decimal(1)) * 100)
    return {**p, "to_next_share": share}


@router.get("/rebates")
def rebates_page(request: Request, session: SessionDep, user: ConsoleUser, dealer: str | None = None):
    """A dealer's own ladders; finance, HQ and admins look at a dealer's by code."""
    require(user, "dealer", *STAFF)
    code = (dealer or "").strip()
    if user.role == "dealer":
        target = session.get(Dealer, user.dealer_id)
    else:
        target = session.scalars(select(Dealer).where(Dealer.code == code)).first() if code else None
        if target is not None and not sees_dealer(user, target):  # out of the caller's scope
            target = None
        if code and target is None:
            _ = translator(request)
            return page(request, "rebates.html", user, 404, target=None, programs=[], code=code,
                        error=_("No dealer with the code %(code)s.", code=code))
    programs = [_ladder(p) for p in rebates.progress(session, target, today=_today())] if target else []
    return page(request, "rebates.html", user, target=target, programs=programs, code=code)


# --- statements --------------------------------------------------------------------------------

@router.get("/statements")
def statements_page(request: Request, session: SessionDep, user: ConsoleUser, run: str | None = None,
                    status: str | None = None, dealer: str | None = None):
    require(user, "dealer", *STAFF)
    status = status if status in STATUSES else None
    run = (run or "").strip() or None
    dealer = None if user.role == "dealer" else (dealer or "").strip() or None
    pager = paging(request, statement_count(session, user, run_id=run, dealer_code=dealer, status=status),
                   run=run or "", status=status or "", dealer=dealer or "")
    rows = statement_list(session, user, run_id=run, dealer_code=dealer, status=status, limit=pager.limit,
                          offset=pager.offset)
    runs = session.scalars(select(SettlementRun.id).order_by(SettlementRun.started_at.desc()).limit(100)).all() \
        if user.role != "dealer" else []
    return page(request, "statements.html", user, statements=rows, run=run, status=status, dealer=dealer,
                runs=runs, statuses=STATUSES, pager=pager)


def _statement_page(request, session, user, statement_id: str, error: str | None = None, status_code: int = 200,
                    form: dict | None = None, printable: bool = False):
    statement = visible_statement(session, user, statement_id)  # another dealer's statement: 404
    if statement is None:
        raise NotFound("statement not found")
    read = statement_read(session, statement)
    current = None
    if not statement.current:  # a revised statement points to the revision to answer
        current = session.scalar(select(Statement.id).where(
            Statement.run_id == statement.run_id, Statement.dealer_id == statement.dealer_id, Statement.current))
    may_answer = (user.role == "dealer" and statement.current and statement.status == "issued"
                  and datetime.now(timezone.utc) <= statement.confirm_by)
    return page(request, "statement.html", user, status_code, statement=read, error=error,
                may_answer=may_answer and not printable, current_id=str(current) if current else None,
                form=form or {}, printable=printable)


@router.get("/statements/{statement_id}")
def statement_page(statement_id: str, request: Request, session: SessionDep, user: ConsoleUser,
                   printing: Annotated[str | None, Query(alias="print")] = None):
    """`?print=1`: the page without the navigation and the answer forms."""
    return _statement_page(request, session, user, statement_id, printable=bool(printing))


async def _answered(request, user, statement_id: str, answer, form: dict | None = None, flash: str = ""):
    """Run the JSON route's answer (database, then wake the run); on a refusal the page again."""
    try:
        await answer()
    except (DomainError, ValidationError) as e:
        if isinstance(e, NotFound):
            raise
        message, status_code = refusal(e, request)

        def render():
            with request.app.state.sessions() as session:
                return _statement_page(request, session, user, statement_id, message, status_code, form)
        return await run_in_threadpool(render)
    return back(f"/console/statements/{statement_id}", flash=flash)


@router.post("/statements/{statement_id}/confirm")
async def confirm(statement_id: str, request: Request, user: ConsoleUser, client: TemporalDep,
                  confirmed: Annotated[str, Form()] = ""):
    """Confirming accepts the statement's money: only with the form's confirmation ticked (checked
    here, not only by the browser)."""
    require(user, "dealer")
    _ = translator(request)

    async def answer():
        if not confirmed.strip():
            def seen():  # another dealer's statement stays a 404, even unconfirmed
                with request.app.state.sessions() as session:
                    return visible_statement(session, user, statement_id) is not None
            if not await run_in_threadpool(seen):
                raise NotFound("statement not found")
            raise DomainError(_("Tick the confirmation first: a confirmed statement cannot be disputed."),
                              field="confirmed")
        return await temporal.answer_statement(client=client, sessions=request.app.state.sessions, user=user,
                                               statement_id=statement_id, dispute=None)
    return await _answered(request, user, statement_id, answer,
                           form={"fault": "confirmed"} if not confirmed.strip() else None,
                           flash=_("Statement confirmed."))


@router.post("/statements/{statement_id}/dispute")
async def dispute(statement_id: str, request: Request, user: ConsoleUser, client: TemporalDep,
                  reason: Annotated[str, Form()] = ""):
    require(user, "dealer")

    async def answer():
        body = DisputeCreate(reason=reason)  # an empty reason: 422 before anything is written
        return await temporal.answer_statement(client=client, sessions=request.app.state.sessions, user=user,
                                               statement_id=statement_id, dispute=body.reason)
    return await _answered(request, user, statement_id, answer, form={"reason": reason},
                           flash=translator(request)("Statement disputed: finance will look into it."))


# --- settlement runs ---------------------------------------------------------------------------

def _settlements_page(request, session, user, error: str | None = None, status_code: int = 200,
                      form: dict | None = None):
    require(user, *STAFF)
    pager = paging(request, session.scalar(select(func.count()).select_from(SettlementRun)) or 0)
    runs = list(session.scalars(select(SettlementRun).order_by(SettlementRun.started_at.desc(), SettlementRun.id)
                                .limit(pager.limit).offset(pager.offset)))
    counts: dict[str, dict[str, int]] = {}
    if runs:  # statements by status of every run listed, in one query
        q = (select(Statement.run_id, Statement.status, func.count()).where(
            Statement.run_id.in_([r.id for r in runs]), Statement.current).group_by(Statement.run_id, Statement.status))
        for run_id, status, n in session.execute(q):
            counts.setdefault(run_id, {})[status] = n
    may_start = user.role in STARTERS
    programs = [{"id": spec.id, "title": spec.title, "period": spec.period, "interim": spec.interim,
                 "version": ruleset.version} for ruleset, spec in rebates.programs(session)] if may_start else []
    return page(request, "settlements.html", user, status_code, runs=runs, counts=counts, programs=programs,
                may_start=may_start, error=error, form=form or {}, pager=pager)


def _at_fault(message: str, fields: tuple[str, ...]) -> str:
    """The form field a refusal names (the first of `fields` in its message), to mark on the form."""
    low = message.lower()
    return next((f for f in fields if f in low), "")


@router.get("/settlements")
def settlements_page(request: Request, session: SessionDep, user: ConsoleUser):
    return _settlements_page(request, session, user)


@router.post("/settlements")
async def start_run(request: Request, user: ConsoleUser, client: TemporalDep, settings: SettingsDep,
                    program: Annotated[str, Form()] = "", period: Annotated[str, Form()] = "",
                    upto: Annotated[str, Form()] = ""):
    require(user, *STARTERS)
    try:
        body = SettlementCreate(program=program, period=period, upto=upto.strip() or None)
        started = await temporal.start_settlement(
            client=client, task_queue=settings.task_queue, sessions=request.app.state.sessions, program=body.program,
            period=body.period, upto=body.upto, actor=user.username,
            today=accounts.business_date(datetime.now(timezone.utc)))
    except (DomainError, ValidationError) as e:
        message, status_code = refusal(e, request)

        def render():
            with request.app.state.sessions() as session:
                return _settlements_page(request, session, user, message, status_code,
                                         form={"program": program, "period": period, "upto": upto,
                                               "fault": _at_fault(message, ("upto", "period", "program"))})
        return await run_in_threadpool(render)
    return back(f"/console/settlements/{started.run_id}",
                flash=translator(request)("Settlement %(run)s started.", run=started.run_id))


@router.get("/settlements/{run_id}")
async def settlement_page(run_id: str, request: Request, user: ConsoleUser, client: TemporalDep):
    require(user, *STAFF)
    sessions = request.app.state.sessions

    def load():
        with sessions() as session:
            run = session.get(SettlementRun, run_id)
            if run is None:
                return None
            return page(request, "settlement.html", user, run=run_read(session, run),
                        statements=statement_list(session, user, run_id=run_id, dealer_code=None, status=None,
                                                  limit=5000))

    shown = await run_in_threadpool(load)
    if shown is not None:
        return shown
    # Not frozen yet: a run that has just been started has a workflow but no row so far.
    try:
        await client.get_workflow_handle(workflow_id_for(run_id)).describe()
    except RPCError:
        raise NotFound("settlement run not found") from None
    return page(request, "settlement.html", user, run=None, run_id=run_id, statements=[])
