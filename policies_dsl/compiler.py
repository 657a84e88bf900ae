"""Condition AST → durable_rules JSON. durable_rules wants a single fact on the left of each
comparison, has no `$in` and no `$not`; money travels as integer cents."""
from __future__ import annotations

from decimal import Decimal

from .conditions import And, Arith, Compare, ConditionError, Fact, Has, In, Lit, Not, Or, check, parse, type_of

_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}
CENT = Decimal("0.01")


def engine_field(name: str) -> str:
    """Facts are posted flat; dotted names become double underscores."""
    return name.replace(".", "__")


def member_field(name: str, member: str) -> str:
    return f"{engine_field(name)}__{member}"


def to_cents(value: Decimal) -> int:
    if value != value.quantize(CENT):
        raise ConditionError(f"money literal {value} has more than 2 decimal places")
    return int(value * 100)


def checked_condition(text: str, facts: dict):
    """Parse, type-check and trial-compile a `when`; the AST, or ConditionError."""
    node = parse(text)
    check(node, facts)
    compile_condition(node, facts)
    return node


def compile_condition(node, facts: dict) -> dict:
    return _cond(_push_not(node, False), facts)


def _push_not(node, negate: bool):
    """Remove `not` by De Morgan and flipped comparisons: durable_rules has no negation."""
    if isinstance(node, Not):
        return _push_not(node.item, not negate)
    if isinstance(node, (And, Or)):
        items = tuple(_push_not(i, negate) for i in node.items)
        return (Or if isinstance(node, And) else And)(items) if negate else type(node)(items)
    if not negate:
        return node
    if isinstance(node, Compare):
        return Compare(_NEGATE[node.op], node.left, node.right)
    if isinstance(node, In):
        return In(node.subject, node.values, not node.negated)
    if isinstance(node, Has):
        return Has(node.collection, node.value, not node.negated)
    if isinstance(node, Fact):  # a bool fact
        return Compare("==", node, Lit(False))
    return Not(node)


def _cond(node, facts: dict) -> dict:
    if isinstance(node, And):
        return {"$and": [_cond(i, facts) for i in node.items]}
    if isinstance(node, Or):
        return {"$or": [_cond(i, facts) for i in node.items]}
    if isinstance(node, Fact):
        return {engine_field(node.name): True}
    if isinstance(node, Has):  # a set travels as one true field per member
        return {"$nex" if node.negated else "$ex": {member_field(node.collection.name, node.value.value): 1}}
    if isinstance(node, In):
        if not isinstance(node.subject, Fact):
            raise ConditionError("the left of 'in' must be a single fact")
        return _cond((And if node.negated else Or)(
            tuple(Compare("!=" if node.negated else "==", node.subject, v) for v in node.values)), facts)
    if isinstance(node, Compare):
        op, left, right = node.op, node.left, node.right
        if not isinstance(left, Fact):
            if not isinstance(right, Fact):
                raise ConditionError("one side of a comparison must be a single fact")
            op, left, right = _FLIP[op], right, left
        money = type_of(left, facts).money
        value = _value(right, facts, money)
        key = engine_field(left.name)
        return {key: value} if op == "==" else {_OPS[op]: {key: value}}
    raise ConditionError("unsupported condition")


def _value(node, facts: dict, money: bool | None):
    if isinstance(node, Lit):
        v = node.value
        if isinstance(v, Decimal):
            return to_cents(v) if money else (int(v) if v == v.to_integral_value() else float(v))
        return v
    if isinstance(node, Fact):
        return {"$m": engine_field(node.name)}
    if isinstance(node, Arith):
        left_money = type_of(node.left, facts).money
        right_money = type_of(node.right, facts).money
        if node.op in "+-":  # both sides share the unit
            unit = money if money is not None else (left_money if left_money is not None else right_money)
            lm = rm = unit
        else:  # money * plain: only the money side is in cents
            lm, rm = bool(left_money), bool(right_money)
        return {_ARITH[node.op]: {"$l": _value(node.left, facts, lm), "$r": _value(node.right, facts, rm)}}
    raise ConditionError("unsupported value")
