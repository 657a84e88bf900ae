"""Rule governance API: what-if replay of a candidate rule file over stored decisions, and its stored
reports (JSON, CSV or XLSX). The services are dealerflow/governance/."""
from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from dealerflow.core.errors import Forbidden
from dealerflow.governance import impact, reports
from dealerflow.governance.replay import DEFAULT_SAMPLES, MAX_SAMPLES, Window
from dealerflow.models import User
from dealerflow.shared import exports
from policies_dsl import load_rule_file

from api.admin.rules import Filename, YamlBody, may_deploy
from api.deps import SessionDep, require_role
from api.errors import responses
from api.governance.schemas import ReplayReportRead

router = APIRouter(prefix="/api/v1/rules", tags=["rule governance"])
RuleAdmin = Annotated[User, require_role("admin", "hq")]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json (default), csv or xlsx")]
FILES = {200: {"content": {exports.MEDIA_TYPE: {}, exports.XLSX_TYPE: {}},
               "description": "the report; with ?format=csv or xlsx, as a spreadsheet"}}


def check_rights(session, user: User, filename: str, text: str) -> None:
    """Who may deploy a ruleset may replay a candidate of it (admins every kind, HQ policy files)."""
    rule_file = load_rule_file(filename, text)
    if not may_deploy(session, user, rule_file.name, rule_file.kind):
        raise Forbidden(f"ruleset '{rule_file.name}' is a {rule_file.kind} ruleset, which only an admin replays")


@router.post("/replay", response_model=ReplayReportRead, status_code=201, responses=responses(403, 409, 422))
def replay(text: YamlBody, filename: Filename, session: SessionDep, user: RuleAdmin,
           since: Annotated[date | None, Query(description="first business day (Beijing time), e.g. 2026-07-01")] = None,
           until: Annotated[date | None, Query(description="last business day, included")] = None,
           samples: Annotated[int, Query(ge=0, le=MAX_SAMPLES)] = DEFAULT_SAMPLES):
    """Evaluate a candidate rule file over the stored inputs of past decisions of its kind and compare
    with what was decided; the report is stored (id, content hash) and returned. An invalid file (file:line
    path: message), a file of another kind than its ruleset, or a window without decisions stores nothing."""
    check_rights(session, user, filename, text)
    report = impact.replay(session, filename=filename, text=text, window=Window.of_days(since, until),
                           actor=user.username, samples=samples)
    session.commit()
    return ReplayReportRead.model_validate(report, from_attributes=True)


@router.get("/replays/{report_id}", response_model=ReplayReportRead, responses={**FILES, **responses(403, 404)})
def get_replay(report_id: uuid.UUID, session: SessionDep, user: RuleAdmin, format: Format = "json"):
    report = reports.get(session, report_id)
    if user.role != "admin" and report.kind != "policy":
        raise Forbidden("only an admin reads the replay of this kind of rule file")
    if format == "json":
        return ReplayReportRead.model_validate(report, from_attributes=True)
    rows = reports.rows(report)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", f"replay-{report.ruleset}-{report.id.hex[:8]}")
    if format == "csv":
        body, media = exports.table_csv(reports.COLUMNS, rows), exports.MEDIA_TYPE
    else:
        body, media = exports.table_xlsx(reports.COLUMNS, rows, title="replay"), exports.XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{format}"'})
