"""Deployed rule files: validate-then-deploy, and the active compiled version for a decision.

The database holds every deployed version; the highest is active. Workers and API processes read
the active version number on each decision and compile a version once per process, so a deploy
takes effect everywhere without a restart, and an invalid file never becomes active."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from policies_dsl import CompiledRuleset, RuleFile, get_compiled, load_rule_file

from .models import RuleVersion


class UnknownRuleset(LookupError):
    pass


@dataclass(frozen=True)
class Deployed:
    ruleset: str
    version: int
    changed: bool
    sha256: str


def deploy(session: Session, *, filename: str, text: str, actor: str) -> Deployed:
    """Validate `text` (raises policies_dsl.RuleFileError, writing nothing) and make it the active
    version unless it equals the active one. Concurrent deploys of one ruleset serialize on a lock."""
    rule_file = load_rule_file(filename, text)
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"rules:{rule_file.name}"))))
    current = _active_row(session, rule_file.name)
    if current is not None and current.sha256 == rule_file.sha256:
        return Deployed(rule_file.name, current.version, False, current.sha256)
    version = 1 if current is None else current.version + 1
    session.execute(insert(RuleVersion).values(
        ruleset=rule_file.name, version=version, kind=rule_file.kind, sha256=rule_file.sha256,
        source=text, filename=filename, deployed_by=actor))
    return Deployed(rule_file.name, version, True, rule_file.sha256)


def deploy_directory(session: Session, rules_dir: Path, *, actor: str) -> list[Deployed]:
    """Deploy every rule file under `rules_dir` (all validated first: one bad file deploys none)."""
    files = sorted(p for p in Path(rules_dir).rglob("*.yaml"))
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    for path, text in texts.items():
        load_rule_file(str(path), text)
    return [deploy(session, filename=display_name(path, rules_dir), text=text, actor=actor)
            for path, text in texts.items()]


def display_name(path: Path, rules_dir: Path) -> str:
    """How a rule file is named in errors and in the database: rules/… when it lives there."""
    try:
        return str(Path("rules") / Path(path).resolve().relative_to(Path(rules_dir).resolve()))
    except ValueError:
        return str(path)


def _active_row(session: Session, name: str) -> RuleVersion | None:
    return session.scalars(select(RuleVersion).where(RuleVersion.ruleset == name)
                           .order_by(RuleVersion.version.desc()).limit(1)).first()


def active(session: Session, name: str) -> CompiledRuleset:
    """The active compiled ruleset: one indexed lookup, then the per-process compile cache."""
    row = session.execute(select(RuleVersion.version, RuleVersion.sha256, RuleVersion.filename)
                          .where(RuleVersion.ruleset == name)
                          .order_by(RuleVersion.version.desc()).limit(1)).first()
    if row is None:
        raise UnknownRuleset(f"ruleset {name!r} has not been deployed (run `dealerflow rules deploy`)")
    return _compiled(session, name, row.version, row.sha256, row.filename)


_files: dict[tuple[str, int, str], RuleFile] = {}
_MAX_FILES = 256  # parsed versions kept per process; the engine's own cache is bounded too


def _compiled(session: Session, name: str, version: int, sha: str, filename: str) -> CompiledRuleset:
    key = (name, version, sha)
    rule_file = _files.get(key)
    if rule_file is None:
        source = session.scalar(select(RuleVersion.source).where(
            RuleVersion.ruleset == name, RuleVersion.version == version))
        if len(_files) >= _MAX_FILES:
            _files.clear()
        rule_file = _files[key] = load_rule_file(filename, source)
    return get_compiled(rule_file, version)


def versions(session: Session) -> list[RuleVersion]:
    return list(session.scalars(select(RuleVersion).order_by(RuleVersion.ruleset, RuleVersion.version.desc())))
