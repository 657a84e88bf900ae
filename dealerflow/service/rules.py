"""The deployed service rule file (`rules/service.yaml`): its compiled rules and its spec, and any
shadow version's targets, stored beside a request's live ones (filed or retargeted), never applied."""
from __future__ import annotations

from sqlalchemy.orm import Session

from dealerflow.core.errors import Unavailable
from dealerflow.shared import rulebook
from policies_dsl import CompiledRuleset
from policies_dsl.kinds.service import ServiceSpec, Target, Terms, terms

RULESET = "service"


def ruleset(session: Session) -> tuple[CompiledRuleset, ServiceSpec]:
    compiled, spec, _ = with_shadows(session, shadows=False)
    return compiled, spec


def with_shadows(session: Session, *, shadows: bool = True) -> tuple[CompiledRuleset, ServiceSpec, list]:
    """The active file and its running shadows, in one lookup."""
    try:
        compiled, running = (rulebook.with_shadows(session, RULESET) if shadows
                             else (rulebook.active(session, RULESET), []))
    except rulebook.UnknownRuleset:
        raise Unavailable("no service rule file has been deployed (rules/service.yaml)") from None
    if compiled.rule_file.kind != "service":
        raise Unavailable(f"{RULESET!r} is a {compiled.rule_file.kind} rule file, not a service file")
    return compiled, compiled.rule_file.spec, running


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def target_value(route: str, target: Target) -> str:
    """A request's terms as replay and the shadow dashboard compare them: route and working-time targets."""
    return f"{route} {_hours(target.response)}/{_hours(target.resolution)}"


def record_shadows(session: Session, shadows: list, *, subject: str, live: CompiledRuleset, t: Terms,
                   context: dict) -> None:
    """Each shadow version's terms for the request, stored beside the live ones."""
    if not shadows:
        return

    def evaluate(shadow: CompiledRuleset) -> dict:
        s = terms(shadow, shadow.rule_file.spec, category=t.category, tier=t.tier)
        return {"value": target_value(s.route, s.target), "rule": s.rule, "reason": s.reason,
                "outcome": {"route": s.route, "response": s.target.response, "resolution": s.target.resolution}}

    rulebook.store_shadow_outcomes(session, [dict(
        ruleset=RULESET, subject=subject, live_version=live.version, live=target_value(t.route, t.target),
        live_reason=t.reason, shadow=rulebook.beside(shadows, evaluate), context=context)])
