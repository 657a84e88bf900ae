"""Facts checked against their declared types before they reach the engine: durable_rules lets a
string pass a numeric test, and money must stay exact."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .compiler import CENT, engine_field, member_field
from .conditions import SET_MEMBER
from .errors import FactError, did_you_mean

_PYTHON_TYPE = {"int": "an integer", "decimal": "a decimal number", "money": "an amount with at most 2 decimals",
                "bool": "true or false", "string": "text", "enum": "one of",
                "set": "a list of values (lower case, digits, underscores)"}


def coerce(spec, value):
    """Return the exact Python value of a fact, or raise FactError naming it."""
    t = spec.type
    if t == "bool":
        if isinstance(value, bool):
            return value
        raise _wrong(spec, value)
    if t == "set":
        if isinstance(value, (list, tuple, set, frozenset)) and all(
                isinstance(v, str) and SET_MEMBER.match(v) for v in value):
            return frozenset(value)
        raise _wrong(spec, value)
    if t in ("string", "enum"):
        if not isinstance(value, str) or (t == "enum" and value not in spec.values):
            raise _wrong(spec, value)
        return value
    if isinstance(value, bool) or isinstance(value, float):  # floats are never exact money
        raise _wrong(spec, value)
    if t == "int":
        if isinstance(value, int):
            return value
        raise _wrong(spec, value)
    if type(value) is Decimal:
        number = value  # immutable: the value itself is exact
    elif isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _wrong(spec, value) from None
    else:
        raise _wrong(spec, value)
    if not number.is_finite() or (t == "money" and number != number.quantize(CENT)):
        raise _wrong(spec, value)
    return number


def _wrong(spec, value) -> FactError:
    expected = _PYTHON_TYPE[spec.type] + (f" {', '.join(spec.values)}" if spec.type == "enum" else "")
    return FactError(f"fact '{spec.name}': expected {expected}, got {value!r}")


def check_facts(specs: dict, facts: dict, required=None) -> dict:
    """Every required fact (default: all declared) present, none undeclared, each of its type.
    Returns exact values."""
    _declared(specs, facts, required)
    return {name: coerce(specs[name], facts[name]) for name in specs if name in facts}


def _declared(specs: dict, facts: dict, required) -> None:
    unknown = [k for k in facts if k not in specs]
    if unknown:
        raise FactError(f"undeclared fact '{unknown[0]}'{did_you_mean(unknown[0], specs)}")
    missing = [k for k in (specs if required is None else required) if k not in facts]
    if missing:
        raise FactError(f"missing fact '{missing[0]}' ({spec_desc(specs[missing[0]])})")


def spec_desc(spec) -> str:
    return spec.type + (f" of {', '.join(spec.values)}" if spec.values else "")


def to_engine(specs: dict, exact: dict) -> dict:
    """Exact values → the engine's JSON: money as integer cents, decimals as floats."""
    out = {}
    for name, value in exact.items():
        t = specs[name].type
        if t == "money":
            value = int(value * 100)
        elif t == "decimal":
            value = float(value)
        elif t == "set":
            out.update((member_field(name, member), True) for member in value)
            continue
        out[engine_field(name)] = value
    return out


def to_json(specs: dict, exact: dict) -> dict:
    """Exact values for an explanation: money and decimals as strings."""
    return {name: _shown(specs[name], v) for name, v in exact.items()}


def _shown(spec, v):
    return f"{v:.2f}" if spec.type == "money" else str(v) if isinstance(v, Decimal) else \
        sorted(v) if isinstance(v, frozenset) else v


class RepeatChecked:
    """check_facts and to_json over a stream of facts that repeat from one call to the next (a
    dealer's facts over its skus): a fact equal to the last one given, and of the same type, keeps
    its checked and shown values. Decimals are checked every time (equal decimals may be written
    differently, and the explanation shows each as given)."""

    def __init__(self, specs: dict):
        self.specs, self.last = specs, {}
        self.declared = None  # (the names given, the required) last found declared and complete

    def __call__(self, facts: dict, required) -> tuple[dict, dict]:
        """(exact, shown) as check_facts and to_json give them."""
        specs, last = self.specs, self.last
        if self.declared is None or self.declared[1] != required or facts.keys() != self.declared[0]:
            _declared(specs, facts, required)
            self.declared = (set(facts), required)
        exact, shown = {}, {}
        for name, spec in specs.items():
            if name not in facts:
                continue
            value = facts[name]
            seen = last.get(name)
            if seen is None or type(seen[0]) is not type(value) or seen[0] != value or isinstance(value, Decimal):
                checked = coerce(spec, value)
                seen = last[name] = (value, checked, _shown(spec, checked))
            exact[name], shown[name] = seen[1], seen[2]
        return exact, shown
