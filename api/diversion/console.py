"""Console pages of anti-diversion: the cases (HQ and staff see those of their dealers, a dealer its
own), each with the evidence HQ weighs before deciding — alerts, scans, codes, places and the
dealer's earlier cases — and the investigation task's decision, confirmed before it is sent."""
from __future__ import annotations

from fastapi import APIRouter, Request

from dealerflow.core.errors import NotFound
from dealerflow.shared.credit_points import balance

from api.deps import SessionDep
from api.diversion.views import case_count, case_evidence, case_list, case_read, visible_case
from api.pages import ConsoleUser, page
from api.paging import paging

router = APIRouter(prefix="/console", include_in_schema=False)
STATUSES = ("open", "confirmed", "dismissed")


@router.get("/cases")
def cases_page(request: Request, session: SessionDep, user: ConsoleUser, region: str | None = None,
               status: str | None = None):
    region = (region or "").strip()[:64] or None
    status = status if status in STATUSES else None
    pager = paging(request, case_count(session, user, region=region, status=status), region=region or "",
                   status=status or "")
    rows = case_list(session, user, region=region, status=status, dealer=None, limit=pager.limit,
                     offset=pager.offset)
    return page(request, "cases.html", user, cases=rows, total=pager.total, pager=pager, region=region or "",
                status=status or "", statuses=STATUSES)


@router.get("/cases/{case_id}")
def case_page(case_id: str, request: Request, session: SessionDep, user: ConsoleUser):
    case = visible_case(session, user, case_id)  # another dealer's case: 404
    if case is None:
        raise NotFound("case not found")
    read = case_read(session, case)
    evidence = case_evidence(session, case)
    points = balance(session, case.dealer_id) if case.dealer_id else None
    return page(request, "case.html", user, case=read, evidence=evidence, credit_points=points,
                may_decide=user.role in ("hq", "admin") and case.status == "open" and read["task_id"] is not None)
