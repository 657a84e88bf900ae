"""The kinds of rule file, one plugin each, found here by their `kind:`. The validator, the schema and
the test runner ask this registry and never name a kind: a new kind of rule file is a new module
with a KindPlugin, listed below."""
from __future__ import annotations

from . import allocation, credit_approval, credit_score, diversion, inventory, policy, rebate, service, tiering
from .fragments import PATTERN_MEANING as _FRAGMENTS
from .plugin import KindPlugin

# In this order the document kinds' sections appear in the schema and in "expected one of" messages.
KINDS: dict[str, KindPlugin] = {p.name: p for p in (credit_approval.PLUGIN, policy.PLUGIN, rebate.PLUGIN,
                                                    diversion.PLUGIN, tiering.PLUGIN, allocation.PLUGIN,
                                                    credit_score.PLUGIN, service.PLUGIN, inventory.PLUGIN)}

# What every kind's schema patterns mean, for error messages a business admin can act on.
PATTERN_MEANING = {**_FRAGMENTS, **{p: m for k in KINDS.values() for p, m in k.patterns.items()}}


def kind(name: str) -> KindPlugin:
    """The plugin of a `kind:`; the schema has made sure it is one of KINDS."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"no kind of rule file is called {name!r} (kinds: {', '.join(KINDS)})") from None


__all__ = ["KINDS", "KindPlugin", "PATTERN_MEANING", "kind"]
