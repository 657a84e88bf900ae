"""Console pages of an administrator: rule files (read, compare, validate, deploy). HQ reads them; HQ
deploys policy rule files only. Every change goes through the services the JSON API uses
(api/admin/rules.py). Master data's pages are api/masterdata/console.py."""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from sqlalchemy.orm import Session

from dealerflow.core.errors import DomainError, Forbidden, Invalid, NotFound
from dealerflow.models import User
from dealerflow.shared import rulebook
from policies_dsl import RuleFileError

from api import highlight
from api.admin import rules as rule_files
from api.deps import SessionDep
from api.forms import field_errors, see as _see
from api.pages import ConsoleUser, page, refusal, require

router = APIRouter(prefix="/console", include_in_schema=False)

READERS = ("admin", "hq")
Text = Annotated[str, Form()]


# --- rule files ----------------------------------------------------------------------------------

def _visible(session: Session, user: User, ruleset: str, kind: str) -> bool:
    """A ruleset is shown to who may deploy it: admins every one, HQ the policy rulesets."""
    return rule_files.may_deploy(session, user, ruleset, kind)


@router.get("/rules")
def rules_page(request: Request, session: SessionDep, user: ConsoleUser):
    require(user, *READERS)
    rows = [r for r in rulebook.rulesets(session) if _visible(session, user, r.ruleset, r.kind)]
    return page(request, "rules.html", user, rulesets=rows, form={}, max_size=rule_files.MAX_RULE_FILE)


def _history(session: Session, user: User, ruleset: str):
    versions = rulebook.history(session, ruleset)
    if not _visible(session, user, ruleset, versions[-1].kind):
        raise Forbidden(f"ruleset '{ruleset}' is a {versions[-1].kind} ruleset, which only an admin reads here")
    return versions


def _version(versions, number: int | None, field: str):
    if number is None:
        return versions[0]
    found = next((v for v in versions if v.version == number), None)
    if found is None:
        raise NotFound(f"version {number} has not been deployed", field=field)
    return found


@router.get("/rules/{ruleset}")
def rule_page(ruleset: str, request: Request, session: SessionDep, user: ConsoleUser, version: int | None = None,
              deployed: int | None = None):
    require(user, *READERS)
    versions = _history(session, user, ruleset)
    shown = _version(versions, version, "version")
    return page(request, "rule.html", user, ruleset=ruleset, versions=versions, shown=shown,
                lines=highlight.lines(shown.source), deployed=deployed,
                form={"filename": versions[0].filename}, max_size=rule_files.MAX_RULE_FILE)


@router.get("/rules/{ruleset}/diff")
def rule_diff_page(ruleset: str, request: Request, session: SessionDep, user: ConsoleUser,
                   old: int | None = None, new: int | None = None):
    require(user, *READERS)
    versions = _history(session, user, ruleset)
    newer = _version(versions, new, "new")
    older = _version(versions, old if old is not None else max(newer.version - 1, versions[-1].version), "old")
    return page(request, "rule_diff.html", user, ruleset=ruleset, versions=versions, old=older, new=newer,
                rows=highlight.diff(older.source, newer.source))


def _uploaded(upload: UploadFile | None) -> tuple[str | None, str | None]:
    """The text and name of an uploaded file, if one was chosen."""
    if upload is None or not upload.filename:
        return None, None
    data = upload.file.read(rule_files.MAX_RULE_FILE + 1)
    if len(data) > rule_files.MAX_RULE_FILE:
        raise Invalid(f"a rule file has at most {rule_files.MAX_RULE_FILE // 1024} KiB", field="upload")
    try:
        return data.decode("utf-8-sig"), upload.filename
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text", field="upload") from None


def _checked(request: Request, session: Session, user: User, text: str, filename: str, *, status: int = 200,
             confirm: bool = False, error: str | None = None):
    """The check page: the file highlighted with each error at its line, its tests, and (valid and the
    user's to deploy) the deploy button, or its confirmation with the difference to the active version."""
    examined = rule_files.examine(filename, text)
    rule_file = examined.rule_file
    active = None
    allowed = False
    if rule_file is not None:
        active = rulebook.active_version(session, rule_file.name)
        allowed = rule_files.may_deploy(session, user, rule_file.name, rule_file.kind)
    if not examined.valid and status == 200:
        status = 422
    return page(request, "rule_check.html", user, status, error=error, examined=examined, text=text,
                filename=filename, lines=highlight.lines(text, examined.errors), active=active, allowed=allowed,
                confirm=confirm and examined.valid and allowed,
                rows=highlight.diff(active.source, text) if confirm and active is not None else None)


@router.post("/rules/validate")
def validate_rule_file(request: Request, session: SessionDep, user: ConsoleUser, text: Text = "", filename: Text = "",
                       upload: Annotated[UploadFile | None, File()] = None):
    require(user, *READERS)
    form = {"text": text, "filename": filename}
    try:
        uploaded, name = _uploaded(upload)
        text = (uploaded if uploaded is not None else text).replace("\r\n", "\n")  # as a deploy from here stores it
        filename = filename.strip() or (f"rules/{name}" if name else "")
        if not text.strip():
            raise Invalid("paste the file's text or choose a file", field="text")
        if not filename:
            raise Invalid("name the file, e.g. rules/policies/<ruleset>.yaml", field="filename")
        if len(text.encode()) > rule_files.MAX_RULE_FILE:
            raise Invalid(f"a rule file has at most {rule_files.MAX_RULE_FILE // 1024} KiB", field="text")
        _check_filename(filename)
    except Invalid as e:
        message, status = refusal(e)
        return page(request, "rules.html", user, status, error=message, errors=field_errors(e), form=form,
                    rulesets=[r for r in rulebook.rulesets(session) if _visible(session, user, r.ruleset, r.kind)],
                    max_size=rule_files.MAX_RULE_FILE)
    return _checked(request, session, user, text, filename)


def _check_filename(filename: str) -> None:
    """The API's rule for a rule file's name."""
    if len(filename) > 255 or not re.fullmatch(rule_files.FILENAME_PATTERN, filename):
        raise Invalid("a file name of letters, digits, _ . / - ending in .yaml", field="filename")


@router.post("/rules/deploy")
def deploy_rule_file(request: Request, session: SessionDep, user: ConsoleUser, background: BackgroundTasks,
                     text: Text = "", filename: Text = "", confirm: Text = ""):
    """First the confirmation (what changes against the active version), then, confirmed, the deploy:
    the API's deploy, with its rights."""
    require(user, *READERS)
    text = text.replace("\r\n", "\n")  # as the check page showed it (a form sends CRLF)
    try:
        _check_filename(filename)
        if not text.strip():
            raise Invalid("nothing to deploy", field="text")
    except Invalid as e:
        message, status = refusal(e)
        return page(request, "rules.html", user, status, error=message, errors=field_errors(e), form={},
                    rulesets=[r for r in rulebook.rulesets(session) if _visible(session, user, r.ruleset, r.kind)],
                    max_size=rule_files.MAX_RULE_FILE)
    if confirm != "yes":
        return _checked(request, session, user, text, filename, confirm=True)
    try:
        result = rule_files.deploy_file(session, filename=filename, text=text, user=user, app=request.app.state,
                                        background=background)
    except (DomainError, RuleFileError) as e:
        session.rollback()
        message, status = refusal(e)
        return _checked(request, session, user, text, filename, status=status, error=message)
    return _see(f"/console/rules/{result.ruleset}", deployed=result.version)
