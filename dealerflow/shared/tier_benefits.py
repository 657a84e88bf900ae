"""The tier benefits the platform applies (`acts` of the deployed tiering file): the supply priority
the allocation rules read and the early access policy targeting reads, as dealer facts. A tier the
file gives no acts, or no tiering file at all, has neither (priority 0, no early access). SLA
targets per tier are the service file's, applied by `dealerflow/service/`."""
from __future__ import annotations

from sqlalchemy.orm import Session

from dealerflow.shared import rulebook

RULESET = "tiering"


def acts(session: Session) -> dict[str, tuple[int, int]]:
    """tier → (supply priority, early-access days), from the tiering file in force."""
    try:
        compiled = rulebook.active(session, RULESET)
    except rulebook.UnknownRuleset:
        return {}
    if compiled.rule_file.kind != "tiering":
        return {}
    return {t.name: (t.supply_priority, t.early_access_days) for t in compiled.rule_file.spec.tiers}


def facts(tier: str | None, by_tier: dict[str, tuple[int, int]]) -> dict:
    priority, early = by_tier.get(tier or "", (0, 0))
    return {"dealer.supply_priority": priority, "dealer.early_access": early > 0, "dealer.early_access_days": early}
