"""A validated rule file."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FactSpec:
    name: str
    type: str
    values: tuple = ()
    description: str = ""


@dataclass(frozen=True)
class Rule:
    name: str
    when: str
    then: dict
    priority: int
    line: int
    condition: object  # parsed AST
    description: str = ""


@dataclass(frozen=True)
class RuleTest:
    name: str
    given: dict  # fact name → value (exact: Decimal for numbers written as decimals)
    expect: dict
    line: int


@dataclass(frozen=True)
class RuleFile:
    file: str
    name: str
    kind: str
    description: str
    facts: dict  # name → FactSpec
    rules: tuple
    default: dict
    tests: tuple
    source: str
    sha256: str
    spec: object = None  # a document kind's parsed section, e.g. a PolicySpec
    # pinned: running processes keep their version; follow_latest: they follow this one once it is live
    running_processes: str = "pinned"


def facts_of(specs: dict) -> dict:
    """Fact specs as the schema admits them (name → {type, values?, description?}) → name → FactSpec."""
    return {name: FactSpec(name, s["type"], tuple(s.get("values", ())), s.get("description", ""))
            for name, s in specs.items()}
