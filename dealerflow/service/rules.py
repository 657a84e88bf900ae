"""The deployed service rule file (`rules/service.yaml`): its compiled rules and its spec."""
from __future__ import annotations

from sqlalchemy.orm import Session

from dealerflow.core.errors import Unavailable
from dealerflow.shared import rulebook
from policies_dsl import CompiledRuleset
from policies_dsl.kinds.service import ServiceSpec

RULESET = "service"


def ruleset(session: Session) -> tuple[CompiledRuleset, ServiceSpec]:
    try:
        compiled = rulebook.active(session, RULESET)
    except rulebook.UnknownRuleset:
        raise Unavailable("no service rule file has been deployed (rules/service.yaml)") from None
    if compiled.rule_file.kind != "service":
        raise Unavailable(f"{RULESET!r} is a {compiled.rule_file.kind} rule file, not a service file")
    return compiled, compiled.rule_file.spec
