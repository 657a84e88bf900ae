"""Rule files: list deployed versions, validate, deploy (takes effect without a restart)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Query, Request

from dealerflow.core.errors import Forbidden, Invalid
from dealerflow.governance import audit
from dealerflow.shared import rulebook
from dealerflow.tiering import runs as tiering
from dealerflow.models import User
from policies_dsl import RuleFile, RuleFileError, RuleTestResult, load_rule_file, run_rule_tests

from api.rebates.temporal import sync_rebate_schedules
from api.credit.temporal import sync_credit_schedule
from api.tiering.temporal import sync_tiering_schedule
from api.inventory.temporal import sync_inventory_schedules
from api.deps import AdminUser, SessionDep, require_role
from api.admin.schemas import RuleDeployResult, RuleValidation, RuleVersionRead

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])
MAX_RULE_FILE = 256 * 1024
YamlBody = Annotated[str, Body(media_type="application/yaml", max_length=MAX_RULE_FILE)]
HQ_KINDS = ("policy",)  # what HQ deploys; admins deploy every kind
FILENAME_PATTERN = r"[A-Za-z0-9_./-]+\.ya?ml"
Filename = Annotated[str, Query(min_length=1, max_length=255, pattern=f"^{FILENAME_PATTERN}$")]


@router.get("", response_model=list[RuleVersionRead], dependencies=[require_role("admin", "hq")])
def versions(session: SessionDep):
    return [RuleVersionRead.model_validate(v, from_attributes=True) for v in rulebook.versions(session)]


def _check(filename: str, text: str):
    rule_file = load_rule_file(filename, text)  # RuleFileError → 422 with file:line
    failed = [r for r in run_rule_tests(rule_file) if not r.passed]
    if failed:
        raise Invalid.listing([{"file": filename, "line": r.line, "path": "tests", "message": r.message,
                                   "text": f"{filename}:{r.line} tests: {r.name}: {r.message}"} for r in failed])
    return rule_file


@router.post("/validate", response_model=RuleValidation)
def validate(text: YamlBody, filename: Filename, _: AdminUser):
    rule_file = _check(filename, text)
    return {"ruleset": rule_file.name, "valid": True, "rules": len(rule_file.rules), "tests": len(rule_file.tests)}


@router.post("/deploy", response_model=RuleDeployResult, status_code=201)
def deploy(text: YamlBody, filename: Filename, session: SessionDep, request: Request, background: BackgroundTasks,
           user: Annotated[User, require_role("admin", "hq")]):
    """Validate, run the file's own tests, and make it the active version (nothing changes on error).
    Who may deploy is decided by the ruleset's kind as stored (its first version's): admins any kind,
    HQ policy rulesets only. The file is named after its ruleset and keeps its kind. A rebate program
    gets its settlement schedule."""
    result = deploy_file(session, filename=filename, text=text, user=user, app=request.app.state, background=background)
    return RuleDeployResult(ruleset=result.ruleset, version=result.version, changed=result.changed)


def deploy_kinds(user: User) -> tuple[str, ...] | None:
    """The kinds of ruleset `user` may deploy (None: every kind)."""
    return None if user.role == "admin" else HQ_KINDS


def may_deploy(session, user: User, ruleset: str, kind: str) -> bool:
    """Whether `user` may deploy a file of `kind` as `ruleset` (the rights deploy_file applies)."""
    return rulebook.may_deploy(session, ruleset, kind, deploy_kinds(user))


def _platform_check(filename: str, rule_file) -> None:
    if rule_file.kind == "credit_score" and rule_file.name != "credit_score":  # the one the credit run reads
        raise Invalid("the credit scoring file is ruleset 'credit_score'", errors=[{
            "file": filename, "line": 1, "path": "ruleset", "message": "the credit scoring file is ruleset 'credit_score'"}])
    if rule_file.kind == "tiering" and rule_file.name != tiering.RULESET:  # one scorecard: the one runs read
        raise Invalid(f"the tiering file is ruleset '{tiering.RULESET}'", errors=[{"file": filename, "line": 1, "path": "ruleset",
                                   "message": f"the tiering file is ruleset '{tiering.RULESET}'"}])


def deploy_file(session, *, filename: str, text: str, user: User, app, background: BackgroundTasks) -> rulebook.Deployed:
    """The one way a person deploys a rule file (the API and the console): checked, its tests run, the
    user's rights by the ruleset's stored kind, committed, then its schedules brought up to date."""
    if app.settings.rules_four_eyes:
        raise Forbidden("a rule file goes live when a second person approves it: propose it "
                        "(POST /api/v1/rules/proposals, or Propose on the rule file's page)")
    rule_file = _check(filename, text)
    _platform_check(filename, rule_file)
    result = rulebook.deploy(session, filename=filename, text=text, actor=user.username, kinds=deploy_kinds(user))
    if result.changed:
        audit.record(session, ruleset=result.ruleset, action="deployed", actor=user.username, version=result.version,
                     sha256=result.sha256, note="deployed alone (four eyes off)")
    session.commit()
    if result.changed:
        sync_schedules(app, rule_file.kind, rule_file.name, background)
    return result


def sync_schedules(app, kind: str, ruleset: str, background: BackgroundTasks | None = None) -> None:
    """Bring the schedules a new version of a rebate program, the tiering or the credit scoring file drives up to date
    (in the background of the request when one is given, else as a task of the running loop)."""
    calls = schedule_calls(kind, ruleset, client=app.temporal, sessions=app.sessions, task_queue=app.settings.task_queue)
    for fn, kw in calls:
        if background is not None:
            background.add_task(fn, **kw)
        else:
            import asyncio
            asyncio.get_running_loop().create_task(fn(**kw))


def schedule_calls(kind: str, ruleset: str, *, client, sessions, task_queue: str) -> list[tuple]:
    """(function, keywords) of each schedule a new version of `ruleset` drives; the CLI awaits them."""
    common = dict(client=client, sessions=sessions, task_queue=task_queue)
    return {"rebate": [(sync_rebate_schedules, {**common, "only": ruleset})],
            "tiering": [(sync_tiering_schedule, common)], "credit_score": [(sync_credit_schedule, common)],
            "inventory": [(sync_inventory_schedules, common)]}.get(kind, [])


@dataclass
class Examined:
    """What validating a file found: the file (None when it does not load), every error at its line
    (`file`, `line`, `path`, `message`), and its tests' results."""
    rule_file: RuleFile | None
    errors: list[dict]
    tests: list[RuleTestResult]

    @property
    def valid(self) -> bool:
        return self.rule_file is not None and not self.errors and all(t.passed for t in self.tests)


def examine(filename: str, text: str) -> Examined:
    """Validate a file as a deploy would, collecting everything instead of stopping at the first refusal:
    schema and semantics, its name, the platform's rulesets, its own tests."""
    try:
        rule_file = load_rule_file(filename, text)
    except RuleFileError as e:
        return Examined(None, [{"file": x.file, "line": x.line, "path": x.path, "message": x.message}
                               for x in e.errors], [])
    errors = []
    for check in (rulebook.check_name, _platform_check):
        try:
            check(filename, rule_file)
        except Invalid as e:
            errors += [{"file": filename, "line": 1, "path": "", **x} for x in e.errors]
    return Examined(rule_file, errors, run_rule_tests(rule_file))
