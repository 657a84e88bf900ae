"""The `when` language: a lark grammar, a small AST, and type checking against declared facts.
Conditions are data: parsed, never evaluated by Python. Their length and nesting are bounded so that
checking, compiling and rendering them (all recursive) stay far from Python's recursion limit."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import did_you_mean

GRAMMAR = r"""
?start: disj
?disj: conj (_OR conj)*
?conj: neg (_AND neg)*
?neg: _NOT neg          -> not_
    | comparison
?comparison: sum COMP sum        -> compare
    | sum _IN list               -> in_
    | sum _NOT _IN list          -> not_in
    | sum _IN NAME               -> has
    | sum _NOT _IN NAME          -> has_not
    | sum
?sum: product (ADDOP product)*
?product: unary (MULOP unary)*
?unary: "-" NUMBER      -> negative
    | atom
?atom: NUMBER           -> number
    | STRING            -> string
    | _TRUE             -> true
    | _FALSE            -> false
    | NAME              -> fact
    | "(" disj ")"
list: "[" [literal ("," literal)*] "]"
?literal: NUMBER        -> number
    | "-" NUMBER        -> negative
    | STRING            -> string
    | _TRUE             -> true
    | _FALSE            -> false
COMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADDOP: "+" | "-"
MULOP: "*" | "/"
_OR: "or"
_AND: "and"
_NOT: "not"
_IN: "in"
_TRUE: "true"
_FALSE: "false"
NAME: /[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*/
NUMBER: /\d+(\.\d+)?/
STRING: /"[^"\n]*"/ | /'[^'\n]*'/
%ignore /[ \t\r\n]+/
"""

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)
MAX_LENGTH = 4000  # characters: a long `in [...]` list fits; longer is a sign to split the rule
MAX_DEPTH = 64  # levels of the AST: each `not`, and/or in brackets, and operator of a + - * / chain


# --- AST --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    name: str


@dataclass(frozen=True)
class Lit:
    value: object  # Decimal, str or bool


@dataclass(frozen=True)
class Arith:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Compare:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class In:
    subject: object
    values: tuple
    negated: bool = False


@dataclass(frozen=True)
class Has:
    """`"tag" in dealer.tags`: a set fact holds a value."""
    collection: Fact
    value: object
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


class ConditionError(ValueError):
    pass


@v_args(inline=True)
class _ToAst(Transformer_NonRecursive):  # `not not not ...` nests the parse tree as deep as it is long
    def number(self, tok):
        return Lit(Decimal(str(tok)))

    def negative(self, tok):
        return Lit(-Decimal(str(tok)))

    def string(self, tok):
        return Lit(str(tok)[1:-1])

    def true(self):
        return Lit(True)

    def false(self):
        return Lit(False)

    def fact(self, tok):
        return Fact(str(tok))

    def sum(self, *parts):
        return self._fold(parts)

    product = sum

    @staticmethod
    def _fold(parts):
        node = parts[0]
        for op, right in zip(parts[1::2], parts[2::2]):
            node = Arith(str(op), node, right)
        return node

    def compare(self, left, op, right):
        return Compare(str(op), left, right)

    def list(self, *items):
        return tuple(i for i in items if i is not None)

    def in_(self, subject, values):
        return In(subject, values)

    def not_in(self, subject, values):
        return In(subject, values, negated=True)

    def has(self, value, name):
        return Has(Fact(str(name)), value)

    def has_not(self, value, name):
        return Has(Fact(str(name)), value, negated=True)

    def not_(self, item):
        return Not(item)

    def conj(self, *items):
        return And(tuple(items))

    def disj(self, *items):
        return Or(tuple(items))


def parse(text: str):
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"the condition is {len(text)} characters long, more than the {MAX_LENGTH} allowed:"
                             " split it into several rules")
    try:
        node = _ToAst().transform(_parser.parse(text))
    except UnexpectedInput as e:
        raise ConditionError(_syntax_message(text, e)) from None
    if _depth(node) > MAX_DEPTH:
        raise ConditionError(f"the condition nests more than {MAX_DEPTH} levels deep: split it into several rules")
    return node


def _depth(node) -> int:
    """The AST's depth, without recursion: it is measured before anything else walks it."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack += [(c, depth + 1) for c in children(node)]
    return deepest


def _syntax_message(text: str, e: UnexpectedInput) -> str:
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        return f"syntax error at column {len(text) + 1}: the condition ends too early"
    column = getattr(e, "column", None) or 1
    if isinstance(e, UnexpectedCharacters):
        return f"syntax error at column {column}: unexpected character {text[e.pos_in_stream]!r}"
    token: Token = e.token
    expected = _describe(e.expected)
    return f"syntax error at column {column}: unexpected {str(token)!r}" + (f", expected {expected}" if expected else "")


def _describe(expected) -> str:
    names = {"NAME": "a fact", "NUMBER": "a number", "STRING": "a string", "COMP": "a comparison",
             "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "_AND": "'and'", "_OR": "'or'",
             "_IN": "'in'", "_NOT": "'not'", "_TRUE": "true", "_FALSE": "false", "MINUS": "'-'",
             "COMMA": "','", "ADDOP": "+ or -", "MULOP": "* or /"}
    words = sorted({names[x] for x in expected if x in names})
    if {"a fact", "a number"} <= set(words):
        return "a value"
    return " or ".join(words[:4])


# --- types ------------------------------------------------------------------------------------

NUMERIC = ("int", "decimal", "money")
SET_MEMBER = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True)
class Type:
    kind: str  # number | string | bool
    money: bool | None = None  # None: a literal, takes the unit of what it meets
    enum: tuple | None = None


_CHILDREN = {Arith: lambda n: (n.left, n.right), Compare: lambda n: (n.left, n.right), In: lambda n: (n.subject,),
             Has: lambda n: (n.collection,), And: lambda n: n.items, Or: lambda n: n.items, Not: lambda n: (n.item,)}


def children(node) -> tuple:
    return _CHILDREN.get(type(node), lambda n: ())(node)


def facts_in(node) -> list[str]:
    if isinstance(node, Fact):
        return [node.name]
    out: list[str] = []
    for c in children(node):
        out += [f for f in facts_in(c) if f not in out]
    return out


def check(node, facts: dict) -> None:
    """Type-check a condition against the declared facts (name → FactSpec); raise ConditionError."""
    if isinstance(node, (And, Or)):
        for item in node.items:
            check(item, facts)
    elif isinstance(node, Not):
        check(node.item, facts)
    elif isinstance(node, Compare):
        left, right = type_of(node.left, facts), type_of(node.right, facts)
        _comparable(left, right, node)
        if node.op not in ("==", "!=") and left.kind != "number":
            raise ConditionError(f"'{node.op}' compares numbers, not {left.kind}s")
    elif isinstance(node, In):
        subject = type_of(node.subject, facts)
        if not node.values:
            raise ConditionError("the list after 'in' is empty")
        for value in node.values:
            _comparable(subject, type_of(value, facts), node)
    elif isinstance(node, Has):
        if type_of(node.collection, facts).kind != "set":
            raise ConditionError(f"'{node.collection.name}' is not a set: use 'in [...]' to test its value")
        if not (isinstance(node.value, Lit) and isinstance(node.value.value, str)):
            raise ConditionError(f"test a set with a quoted value: \"tag\" in {node.collection.name}")
        if not SET_MEMBER.match(node.value.value):
            raise ConditionError(f"{node.value.value!r} is not a valid set value (lower case, digits, underscores)")
    else:
        t = type_of(node, facts)
        if t.kind == "set":
            raise ConditionError(f"a set is tested with \"value\" in {render(node)}")
        if t.kind != "bool" or not isinstance(node, Fact):
            raise ConditionError("a condition must compare facts or test a bool fact")


def type_of(node, facts: dict) -> Type:
    if isinstance(node, Lit):
        v = node.value
        return Type("bool") if isinstance(v, bool) else Type("string") if isinstance(v, str) else Type("number")
    if isinstance(node, Fact):
        spec = facts.get(node.name)
        if spec is None:
            raise ConditionError(f"unknown fact '{node.name}'{did_you_mean(node.name, facts)}"
                                 f" (declared: {', '.join(sorted(facts))})")
        if spec.type in NUMERIC:
            return Type("number", money=spec.type == "money")
        if spec.type == "enum":
            return Type("string", enum=tuple(spec.values))
        return Type(spec.type)
    if isinstance(node, Arith):
        left, right = type_of(node.left, facts), type_of(node.right, facts)
        for side in (left, right):
            if side.kind != "number":
                raise ConditionError(f"'{node.op}' needs numbers, not a {side.kind}")
        if node.op in "+-":
            if left.money is not None and right.money is not None and left.money != right.money:
                raise ConditionError(f"cannot {'add' if node.op == '+' else 'subtract'} money and a plain number")
            return Type("number", money=left.money if left.money is not None else right.money)
        if left.money and right.money:
            raise ConditionError(f"cannot {'multiply' if node.op == '*' else 'divide'} money by money")
        if node.op == "/" and right.money:
            raise ConditionError("cannot divide by money")
        return Type("number", money=True if (left.money or right.money) else
                    (None if left.money is None and right.money is None else False))
    raise ConditionError("a condition cannot be used as a value")


def _comparable(left: Type, right: Type, node) -> None:
    if left.kind != right.kind:
        raise ConditionError(f"cannot compare a {left.kind} with a {right.kind} in {render(node)}")
    if left.kind == "number" and None not in (left.money, right.money) and left.money != right.money:
        raise ConditionError(f"cannot compare money with a plain number in {render(node)}")
    for a, b, other in ((left, right, getattr(node, "right", None)), (right, left, getattr(node, "left", None))):
        if a.enum is not None and b.enum is None:
            values = node.values if isinstance(node, In) else (other,)
            for v in values:
                if isinstance(v, Lit) and v.value not in a.enum:
                    raise ConditionError(f"{v.value!r} is not one of {', '.join(a.enum)}")


def render(node) -> str:
    if isinstance(node, Fact):
        return node.name
    if isinstance(node, Lit):
        return ("true" if node.value else "false") if isinstance(node.value, bool) else (
            f'"{node.value}"' if isinstance(node.value, str) else str(node.value))
    if isinstance(node, Arith):
        return f"{render(node.left)} {node.op} {render(node.right)}"
    if isinstance(node, Compare):
        return f"{render(node.left)} {node.op} {render(node.right)}"
    if isinstance(node, In):
        return f"{render(node.subject)} {'not in' if node.negated else 'in'} [{', '.join(map(render, node.values))}]"
    if isinstance(node, Has):
        return f"{render(node.value)} {'not in' if node.negated else 'in'} {node.collection.name}"
    if isinstance(node, And):
        return " and ".join(f"({render(i)})" if isinstance(i, Or) else render(i) for i in node.items)
    if isinstance(node, Or):
        return " or ".join(render(i) for i in node.items)
    return f"not ({render(node.item)})"
