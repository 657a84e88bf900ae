"""Schema fragments several kinds share, what their patterns mean (for error messages a business
admin can act on), the dealer facts every dealer-facing kind reads, and the readers of the values
the fragments admit."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ..durations import DURATION_PATTERN, parse_duration
from ..errors import RuleError
from ..loader import Document

ROLE = {"type": "string", "pattern": r"^[a-z][a-z_]*$"}
DURATION = {"type": "string", "pattern": DURATION_PATTERN}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
SHARE = {"type": "string", "pattern": r"^(100(\.0+)?|[1-9]?[0-9](\.[0-9]+)?)%$"}  # 0% to 100%, nothing above
# Money and numbers are quoted text or YAML numbers; the pattern applies to text only, and the
# semantic check reads a number's source text (never a float) for its exact value.
MONEY = {"type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "minimum": 0,
         "description": "an amount: text like \"5000.00\" or a number with at most 2 decimals"}
NUMBER = {"type": ["string", "number"], "pattern": r"^[0-9]+(\.[0-9]+)?$", "minimum": 0}
CODE = {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,31}$"}
ROLE_SLA = {"type": "object", "additionalProperties": False, "required": ["role", "sla"],
            "properties": {"role": ROLE, "sla": DURATION}}

PATTERN_MEANING = {
    SHARE["pattern"]: "a share like 2% or 12.5% (0% to 100%)",
    MONEY["pattern"]: "an amount like 5000.00",
    NUMBER["pattern"]: "a number like 300000 or 2500.50",
    CODE["pattern"]: "a code like window (lower case, digits, underscores, at most 32)",
}

# Facts about a dealer that every dealer-facing rule can read; the platform supplies them.
DEALER_FACTS = {
    "dealer.code": {"type": "string"},
    "dealer.region": {"type": "string"},
    "dealer.level": {"type": "int", "description": "1: buys from HQ, 2: buys from a level-1 dealer"},
    "dealer.tier": {"type": "string", "description": "tier from the tiering scorecard, e.g. core, key, normal"},
    "dealer.tags": {"type": "set", "description": "tags such as window_specialist, rural_market; test with \"tag\" in dealer.tags"},
    "dealer.channel": {"type": "string", "description": "channel type, e.g. retail, wholesale, online"},
    "dealer.credit_points": {"type": "int", "description": "anti-diversion credit points: 100, less the penalties of"
                                                          " confirmed diversion cases, plus points earned back"},
}

# The tier benefits the platform supplies (the tiering file's `acts`): supply first, new products first.
TIER_BENEFIT_FACTS = {
    "dealer.supply_priority": {"type": "int", "description": "the supply priority of the dealer's tier, 0 without one"},
    "dealer.early_access": {"type": "bool", "description": "the dealer's tier gets new-product policies early"},
    "dealer.early_access_days": {"type": "int", "description": "how many days before the others (0: no early access)"},
}


def exact(doc: Document, path: tuple, value, errors: list[RuleError]) -> Decimal | None:
    """A number as written: quoted text, a YAML int, or a YAML float read from its source text."""
    text = doc.raw.get(path, str(value)) if isinstance(value, float) else str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        errors.append(doc.error(path, f"{text!r} is not a number"))
        return None
    return number


def share(text: str) -> Decimal:
    """'2%' → Decimal('0.02'); the schema has checked the form."""
    return Decimal(text[:-1]) / 100


def seconds(text: str) -> int:
    return int(parse_duration(text).total_seconds())


def plain(number: Decimal) -> str:
    """Positional notation, never 1E+6: the condition language and people both read it."""
    return format(number, "f")
