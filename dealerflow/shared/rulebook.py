"""Deployed rule files: validate-then-deploy, and the active compiled version for a decision.

The database holds every deployed version. The active one at a moment is the highest version in
`active` mode in effect then (`effective_from` passed or none, `effective_until` not yet reached): a
version deployed with a future `effective_from` is scheduled and takes effect at its date with no job
to run, and a decision asks for the version in force at its business time. A `shadow` version is
never active: it is evaluated beside the active one and its outcome only recorded. Workers and API
processes read the active version number on each decision and compile a version once per process,
so a deploy takes effect everywhere without a restart, and an invalid file never becomes active."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Callable, Collection

from dealerflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset, FactError, RuleFile, compiled_for, load_rule_file

from dealerflow.models import RuleVersion, ShadowOutcome


class UnknownRuleset(NotFound):
    pass


@dataclass(frozen=True)
class Deployed:
    ruleset: str
    version: int
    changed: bool
    sha256: str


# Rulesets the platform reads by name: each can only ever be of its own kind.
PLATFORM_RULESETS = {"credit_approval": "credit_approval", "tiering": "tiering", "diversion": "diversion",
                     "allocation": "allocation", "credit_score": "credit_score", "inventory": "inventory"}


def check_name(filename: str, rule_file: RuleFile) -> None:
    """A rule file is named after its ruleset: `rules/policies/spring_window_display.yaml` holds
    `ruleset: spring_window_display`."""
    stem = PurePosixPath(filename.replace("\\", "/")).name.rsplit(".", 1)[0]
    if stem != rule_file.name:
        message = f"the file of ruleset '{rule_file.name}' is named {rule_file.name}.yaml, not {PurePosixPath(filename).name}"
        raise Invalid(message, errors=[{"file": filename, "line": 1, "path": "ruleset", "message": message,
                                        "text": f"{filename}:1 ruleset: {message}"}])


def stored_kind(session: Session, name: str) -> str | None:
    """The kind of a ruleset, fixed by its first version (None: never deployed)."""
    return session.scalar(select(RuleVersion.kind).where(RuleVersion.ruleset == name)
                          .order_by(RuleVersion.version).limit(1))


def _kind_of(session: Session, name: str) -> str | None:
    return stored_kind(session, name) or PLATFORM_RULESETS.get(name)


def _allowed(kind: str | None, file_kind: str, kinds: Collection[str] | None) -> bool:
    return kinds is None or {kind or file_kind, file_kind} <= set(kinds)


def may_deploy(session: Session, name: str, file_kind: str, kinds: Collection[str] | None) -> bool:
    """Whether an actor who may deploy `kinds` (None: every kind) may deploy a file of `file_kind` as
    ruleset `name`: the check `deploy` makes, for a page that offers the deploy."""
    return _allowed(_kind_of(session, name), file_kind, kinds)


def deploy(session: Session, *, filename: str, text: str, actor: str,
           kinds: Collection[str] | None = None, effective_from: datetime | None = None,
           effective_until: datetime | None = None, mode: str = "active",
           proposal_id: uuid.UUID | None = None) -> Deployed:
    """Validate `text` (raises policies_dsl.RuleFileError, writing nothing) and make it the active
    version unless it equals the active one. Concurrent deploys of one ruleset serialize on a lock.

    With `effective_from` in the future the version is scheduled (active from then); `effective_until`
    ends it (the version before applies again). `mode="shadow"` deploys a version that is only ever
    evaluated beside the active one. The service below the four-eyes proposal (dealerflow/governance):
    fixtures, the CLI's bootstrap and the audited emergency path call it directly.

    `kinds`, when given, are the kinds of ruleset the actor may deploy: checked against the kind the
    ruleset already has (its first version's), not only the file's. The file must be named after
    its ruleset, and a ruleset keeps its kind (another kind is a Conflict)."""
    rule_file = load_rule_file(filename, text)
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"rules:{rule_file.name}"))))
    kind = _kind_of(session, rule_file.name)
    if not _allowed(kind, rule_file.kind, kinds):
        raise Forbidden(f"ruleset '{rule_file.name}' is a {kind or rule_file.kind} ruleset, which only an admin deploys")
    check_name(filename, rule_file)
    if kind is not None and kind != rule_file.kind:
        raise Conflict(f"ruleset '{rule_file.name}' is of kind {kind}; this file is of kind {rule_file.kind}",
                       errors=[{"file": filename, "line": 1, "path": "kind",
                                "message": f"ruleset '{rule_file.name}' is of kind {kind}, not {rule_file.kind}"}])
    if effective_from is not None and effective_until is not None and effective_until <= effective_from:
        raise Invalid("a version's effective_until comes after its effective_from", field="effective_until")
    current = _active_row(session, rule_file.name)
    plain = mode == "active" and effective_from is None and effective_until is None
    if plain and current is not None and current.sha256 == rule_file.sha256 and current.effective_until is None:
        return Deployed(rule_file.name, current.version, False, current.sha256)
    last = session.scalar(select(func.max(RuleVersion.version)).where(RuleVersion.ruleset == rule_file.name))
    version = (last or 0) + 1
    session.execute(insert(RuleVersion).values(
        ruleset=rule_file.name, version=version, kind=rule_file.kind, sha256=rule_file.sha256,
        source=text, filename=filename, deployed_by=actor, mode=mode, effective_from=effective_from,
        effective_until=effective_until, proposal_id=proposal_id))
    return Deployed(rule_file.name, version, True, rule_file.sha256)


def deploy_directory(session: Session, rules_dir: Path, *, actor: str) -> list[Deployed]:
    """Deploy every rule file under `rules_dir` (all validated first: one bad file deploys none)."""
    files = sorted(p for p in Path(rules_dir).rglob("*.yaml"))
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    for path, text in texts.items():
        check_name(display_name(path, rules_dir), load_rule_file(str(path), text))
    return [deploy(session, filename=display_name(path, rules_dir), text=text, actor=actor)
            for path, text in texts.items()]


def display_name(path: Path, rules_dir: Path) -> str:
    """How a rule file is named in errors and in the database: rules/… when it lives there."""
    try:
        return str(Path("rules") / Path(path).resolve().relative_to(Path(rules_dir).resolve()))
    except ValueError:
        return str(path)


def in_effect(at: datetime | None = None):
    """The condition of a version active at `at` (None: now, the database's clock)."""
    moment = func.now() if at is None else at
    return and_(RuleVersion.mode == "active",
                or_(RuleVersion.effective_from.is_(None), RuleVersion.effective_from <= moment),
                or_(RuleVersion.effective_until.is_(None), RuleVersion.effective_until > moment))


def _active_row(session: Session, name: str, at: datetime | None = None) -> RuleVersion | None:
    return session.scalars(select(RuleVersion).where(RuleVersion.ruleset == name, in_effect(at))
                           .order_by(RuleVersion.version.desc()).limit(1)).first()


def active(session: Session, name: str, at: datetime | None = None) -> CompiledRuleset:
    """The compiled ruleset in force at `at` (None: now): one indexed lookup, then the per-process
    compile cache."""
    return compiled(session, name, at=at)


def compiled(session: Session, name: str, version: int | None = None, *, at: datetime | None = None) -> CompiledRuleset:
    """A deployed version (default: the one in force at `at`, None: now), compiled once per process."""
    q = select(RuleVersion.version, RuleVersion.sha256, RuleVersion.filename).where(RuleVersion.ruleset == name)
    q = q.where(RuleVersion.version == version) if version is not None else q.where(in_effect(at))
    row = session.execute(q.order_by(RuleVersion.version.desc()).limit(1)).first()
    if row is None:
        raise UnknownRuleset(f"ruleset {name!r}" + (f" version {version}" if version is not None else "")
                             + " has not been deployed (run `dealerflow rules deploy`)")
    return _compiled_row(session, name, row)


def _compiled_row(session: Session, name: str, row) -> CompiledRuleset:
    """A row of (version, sha256, filename) compiled, once per process."""
    def load() -> RuleFile:  # only when this process has not compiled this version yet
        source = session.scalar(select(RuleVersion.source).where(
            RuleVersion.ruleset == name, RuleVersion.version == row.version))
        return load_rule_file(row.filename, source)

    return compiled_for(name, row.version, row.sha256, load)


def for_process(session: Session, name: str, pinned: int) -> CompiledRuleset:
    """The version a running process (a tiering run, a settlement) uses for its next step: the one it
    started with, unless the version live now is newer and its file says `running_processes:
    follow_latest` — then that one."""
    try:
        latest = compiled(session, name)
    except UnknownRuleset:
        latest = None
    if latest is not None and latest.version > pinned and latest.rule_file.running_processes == "follow_latest":
        return latest
    return compiled(session, name, pinned)


# Built once: the order path reads it on every order.
_WITH_SHADOWS = (select(RuleVersion.version, RuleVersion.sha256, RuleVersion.filename, RuleVersion.mode)
                 .where(RuleVersion.ruleset == bindparam("name"),
                        or_(in_effect(), and_(RuleVersion.mode == "shadow", RuleVersion.shadow_ended_at.is_(None))))
                 .order_by(RuleVersion.version.desc()))


def versions(session: Session) -> list[RuleVersion]:
    return list(session.scalars(select(RuleVersion).order_by(RuleVersion.ruleset, RuleVersion.version.desc())))


def rulesets(session: Session) -> list[RuleVersion]:
    """Each deployed ruleset's active version, by name."""
    return list(session.scalars(select(RuleVersion).where(in_effect()).distinct(RuleVersion.ruleset)
                                .order_by(RuleVersion.ruleset, RuleVersion.version.desc())))


def active_version_at(session: Session, name: str, at: datetime) -> RuleVersion | None:
    """The version in force at `at`, as deployed."""
    return _active_row(session, name, at)


def active_version(session: Session, name: str) -> RuleVersion | None:
    """The active version of a ruleset as deployed (its source, who, when); None if never deployed."""
    return _active_row(session, name)


def shadows(session: Session, name: str) -> list[CompiledRuleset]:
    """The shadow versions of a ruleset still running, compiled (cached per process)."""
    rows = session.execute(select(RuleVersion.version).where(
        RuleVersion.ruleset == name, RuleVersion.mode == "shadow", RuleVersion.shadow_ended_at.is_(None))
        .order_by(RuleVersion.version)).scalars().all()
    return [compiled(session, name, v) for v in rows]


def with_shadows(session: Session, name: str, at: datetime | None = None) -> tuple[CompiledRuleset, list[CompiledRuleset]]:
    """The version in force at `at` and the running shadows, in one indexed lookup: a decision that
    evaluates shadows pays no query more than one that does not (UnknownRuleset: none in force)."""
    query = _WITH_SHADOWS if at is None else (
        select(RuleVersion.version, RuleVersion.sha256, RuleVersion.filename, RuleVersion.mode).where(
            RuleVersion.ruleset == bindparam("name"),
            or_(in_effect(at), and_(RuleVersion.mode == "shadow", RuleVersion.shadow_ended_at.is_(None))))
        .order_by(RuleVersion.version.desc()))
    rows = session.execute(query, {"name": name}).all()
    live = next((r for r in rows if r.mode == "active"), None)
    if live is None:
        raise UnknownRuleset(f"ruleset {name!r} has not been deployed (run `dealerflow rules deploy`)")
    return (_compiled_row(session, name, live),
            [_compiled_row(session, name, r) for r in reversed(rows) if r.mode == "shadow"])


def beside(running: list[CompiledRuleset], evaluate) -> dict | None:
    """Each shadow's outcome by `evaluate(shadow)` (a dict), keyed by version; None without shadows. A
    shadow that cannot decide records why instead of failing the live decision."""
    if not running:
        return None
    out = {}
    for shadow in running:
        try:
            out[str(shadow.version)] = evaluate(shadow)
        except (FactError, KeyError, TypeError, ValueError) as e:
            out[str(shadow.version)] = {"error": str(e) or type(e).__name__}
    return out


def shadow_outcomes(session: Session, name: str, facts: dict,
                    running: list[CompiledRuleset] | None = None) -> dict | None:
    """Each running shadow version's decision on `facts` (version → outcome, rule, reason), to be
    stored with the live decision and never acted on; None when the ruleset has no shadow. A shadow
    that cannot decide these facts records why instead of failing the live decision. `running`: the
    shadows already read (`with_shadows`)."""
    running = shadows(session, name) if running is None else running
    if not running:
        return None
    out = {}
    for shadow in running:
        declared = shadow.rule_file.facts
        try:
            d = shadow.decide({k: v for k, v in facts.items() if k in declared})
            out[str(shadow.version)] = {"outcome": d.outcome, "rule": d.rule, "reason": d.reason}
        except FactError as e:
            out[str(shadow.version)] = {"error": str(e)}
    return out


def store_shadow_outcomes(session: Session, rows: list[dict]) -> None:
    """Shadow outcomes of decisions kept outside `decisions` (models.ShadowOutcome), written with the
    decisions themselves; a decision taken again (a retried step) keeps its first record."""
    if rows:
        session.execute(insert(ShadowOutcome).on_conflict_do_nothing(constraint="shadow_outcome_once"), rows)


def end_shadow(session: Session, name: str, version: int, *, at: datetime | None = None) -> bool:
    """End a shadow version; its record (the outcomes stored with decisions) is kept."""
    done = session.execute(update(RuleVersion).where(
        RuleVersion.ruleset == name, RuleVersion.version == version, RuleVersion.mode == "shadow",
        RuleVersion.shadow_ended_at.is_(None)).values(shadow_ended_at=at or func.now()))
    return done.rowcount > 0


def history(session: Session, name: str) -> list[RuleVersion]:
    """Every deployed version of a ruleset, the active one first; NotFound for a ruleset never deployed."""
    rows = list(session.scalars(select(RuleVersion).where(RuleVersion.ruleset == name)
                                .order_by(RuleVersion.version.desc())))
    if not rows:
        raise UnknownRuleset(f"ruleset {name!r} has not been deployed")
    current = _active_row(session, name)
    return sorted(rows, key=lambda r: (current is None or r.version != current.version, -r.version))
