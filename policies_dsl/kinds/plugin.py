"""What a kind of rule file is: one KindPlugin, which the validator, the schema and the test runner
use without knowing which kind it is."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..engine import CompiledRuleset
from ..errors import RuleError
from ..loader import Document


@dataclass(frozen=True)
class KindPlugin:
    name: str  # the `kind:` of its files
    description: str
    outcome: dict  # JSON Schema of a rule's `then` and of `default`
    # document, declared facts (name → FactSpec), error list → (spec or None, rules, default); a
    # document kind derives its rules from its section, a rule-list kind reads its `rules`
    parse: Callable[[Document, dict, list[RuleError]], tuple[object, tuple, dict]]
    # a test's `expect` checked and made exact, or None when wrong (its problems go to the list):
    # document, path of the expect, the expect, error list, the file's rules
    expectation: Callable[[Document, tuple, dict, list[RuleError], tuple], dict | None]
    # a test's `given` → (what its `expect` is compared with, the reason shown when it differs)
    run: Callable[[CompiledRuleset, dict], tuple[dict, str]]
    section: str | None = None  # a document kind's own top-level key; None: the file lists `rules`
    section_schema: dict | None = None
    # built-in facts: name → {type, values?, description}, or a function of the document when a
    # file's own choices change them (a rebate's measure is money or a count; credit approval declares its own)
    facts: dict | Callable[[dict], dict] = field(default_factory=dict)
    derived: dict = field(default_factory=dict)  # facts computed from others, never given: name → sources
    defaults: dict = field(default_factory=dict)  # facts a test may leave out: name → the value they take
    patterns: dict = field(default_factory=dict)  # what its own schema patterns mean, for error messages
    # top-level keys only files of this kind may hold (settings beside a rule-list kind's rules): name → schema
    settings: dict = field(default_factory=dict)
    # roles that may deploy a file of this kind alone, without a second person's approval, in an
    # emergency (audited loudly); empty: every change waits for a second person
    emergency_roles: tuple = ()
    # whether a file of this kind may say `running_processes: follow_latest`: only where a running
    # process reads the rules again in later steps (a tiering run awaiting approval). A settlement keeps
    # the version its program names (`settle_with`) and a rollout the text dealers acknowledged.
    follows_latest: bool = False

    def facts_for(self, data: dict) -> dict:
        return self.facts(data) if callable(self.facts) else self.facts


def decided(ruleset: CompiledRuleset, given: dict) -> tuple[dict, str]:
    """A test of a kind whose rules decide an outcome: the winner's outcome and its name as `rule`."""
    decision = ruleset.decide(given)
    return {**decision.outcome, "rule": decision.rule}, decision.reason
