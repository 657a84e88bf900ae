"""Compiled rulesets on the durable_rules engine, and `decide()`.

The low-level `durable_rules_engine` module is used directly: `durable.engine.Host` starts timer
threads we do not need. Known engine traits handled here: a ruleset name registers once per process
(#157, #262) so each compile gets a fresh versioned name; creating rulesets leaks (#137, #371) so the
live set is a bounded LRU; concurrent posts to one sid fail spuriously (#291, #292) so calls on one
ruleset are serialized; and `delete_state` can free an uninitialised pointer (seen here as a
segfault in deleteStateNode), so every decision asserts its fact with its own id in one state and
retracts it afterwards: memory stays flat and the state is never deleted."""
from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable

import durable_rules_engine as _engine

from .compiler import compile_condition
from .conditions import facts_in
from .facts import RepeatChecked, check_facts, to_engine, to_json
from .model import RuleFile
from .texts import bilingual, text_in

MAX_LIVE_RULESETS = 64
_NOT_MATCHED = 1
_names = itertools.count(1)


@dataclass(frozen=True)
class Decision:
    ruleset: str
    version: int
    outcome: dict
    rule: str  # the winning rule, or "default"
    matched: tuple  # every rule that matched: {name, priority, when}
    reason: str  # in English (or in the plain text of the file's reason)
    facts: dict  # JSON-safe exact values
    reason_zh: str | None = None  # with a bilingual reason in the file: the same explanation led in Chinese

    def to_dict(self) -> dict:
        out = {"ruleset": self.ruleset, "version": self.version, "outcome": self.outcome, "rule": self.rule,
               "matched": list(self.matched), "reason": self.reason, "facts": self.facts}
        if self.reason_zh is not None:
            out["reason_zh"] = self.reason_zh
        return out

    def reason_in(self, lang: str) -> str:
        """The explanation led by the file's reason in a language ("zh", "zh_CN" or "en")."""
        return self.reason_zh if self.reason_zh is not None and lang.lower().startswith("zh") else self.reason


class CompiledRuleset:
    def __init__(self, rule_file: RuleFile, version: int):
        self.rule_file, self.version = rule_file, version
        self.name = rule_file.name
        self._order = {r.name: i for i, r in enumerate(rule_file.rules)}
        self._rules = {r.name: r for r in rule_file.rules}
        self.required = tuple(dict.fromkeys(f for r in rule_file.rules for f in facts_in(r.condition)))
        definition = {r.name: {"all": [{"m": compile_condition(r.condition, rule_file.facts)}]}
                      for r in rule_file.rules}
        self.engine_name = f"{rule_file.name}@v{version}#{next(_names)}"
        self._handle = _engine.create_ruleset(self.engine_name, json.dumps(definition)) if definition else None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False

    def matching(self, engine_facts: dict) -> list[str]:
        fact = json.dumps({**engine_facts, "sid": "0", "id": next(self._ids)})
        matched: list[str] = []
        with self._lock:
            if self._closed:  # evicted from the cache while a caller still held it: ask again
                raise RuntimeError(f"{self.engine_name} was closed; get the ruleset again")
            if self._handle is None:  # a file with no rules: only the default applies
                return matched
            result = _engine.assert_fact(self._handle, fact)
            try:
                if result[0] == 0:
                    action = _engine.start_action_for_state(self._handle, result[1])
                    message = action[1] if action else None
                    while message:
                        matched += json.loads(message).keys()
                        message = _engine.complete_and_start_action(self._handle, result[1])
                elif result[0] != _NOT_MATCHED:
                    raise RuntimeError(f"durable_rules returned code {result[0]} for {self.engine_name}")
            finally:
                _engine.retract_fact(self._handle, fact)
        return matched

    def decide(self, facts: dict, memo: dict | None = None) -> Decision:
        """The engine's decision on these facts. With `memo` (a dict the caller keeps for one batch of
        decisions of this ruleset), facts whose rule-read values (`required`, as shown) were decided
        before take that decision with their own facts: the rules read nothing else, and the reason
        quotes only facts the winning rule reads, so it is the decision the engine would give."""
        specs = self.rule_file.facts
        if memo is None:
            exact = check_facts(specs, facts, self.required)
            return self._decided(exact, to_json(specs, exact))
        # Within a batch, facts equal to the last call's are checked once (a dealer's, over its skus).
        checked = memo.get((_CHECKED, self.engine_name)) or memo.setdefault((_CHECKED, self.engine_name),
                                                                             RepeatChecked(specs))
        exact, shown = checked(facts, self.required)
        key = (self.engine_name, *(_frozen(shown[f]) for f in self.required))
        known = memo.get(key)
        if known is not None:  # each caller's facts are put back on a hit
            return Decision(known.ruleset, known.version, known.outcome, known.rule, known.matched, known.reason,
                            shown, known.reason_zh)
        decision = self._decided(exact, shown)
        memo[key] = replace(decision, facts={})
        return decision

    def _decided(self, exact: dict, shown: dict) -> Decision:
        specs = self.rule_file.facts
        names = self.matching(to_engine(specs, exact))
        matched = sorted((self._rules[n] for n in set(names)), key=lambda r: (-r.priority, self._order[r.name]))
        if matched:
            winner = matched[0]
            used = ", ".join(f"{f}={shown[f]}" for f in facts_in(winner.condition))
            reason = f"rule '{winner.name}' (priority {winner.priority}) matched: {winner.when} with {used}"
            if len(matched) > 1:
                reason += f"; also matched: {', '.join(r.name for r in matched[1:])}"
            outcome, rule = winner.then, winner.name
        else:
            checked = ", ".join(r.name for r in self.rule_file.rules) or "none"
            reason = f"no rule matched (checked: {checked}); the default outcome applies"
            outcome, rule = self.rule_file.default, "default"
        given, reason_zh = outcome.get("reason"), None
        if given:  # the file's reason leads; a bilingual one is kept in both languages
            if bilingual(given):
                reason_zh = f"{text_in(given, 'zh')} — {reason}"
            reason = f"{text_in(given, 'en')} — {reason}"
        return Decision(self.name, self.version, dict(outcome), rule,
                        tuple({"name": r.name, "priority": r.priority, "when": r.when} for r in matched),
                        reason, shown, reason_zh)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._handle is not None:
                _engine.delete_ruleset(self._handle)
                self._handle = None


_CHECKED = object()  # the memo's entry holding a ruleset's RepeatChecked


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


def decide(ruleset: CompiledRuleset, facts: dict) -> Decision:
    return ruleset.decide(facts)


def compile_rule_file(rule_file: RuleFile, version: int) -> CompiledRuleset:
    return CompiledRuleset(rule_file, version)


_live: OrderedDict = OrderedDict()
_live_lock = threading.Lock()


def get_compiled(rule_file: RuleFile, version: int) -> CompiledRuleset:
    """The compiled ruleset for this file and version, compiled once per process (bounded LRU)."""
    return compiled_for(rule_file.name, version, rule_file.sha256, lambda: rule_file)


def compiled_for(name: str, version: int, sha256: str, load: Callable[[], RuleFile]) -> CompiledRuleset:
    """Like get_compiled, but `load` is called only on a miss (e.g. to read the source from a store)."""
    key = (name, version, sha256)
    with _live_lock:
        compiled = _live.get(key)
        if compiled is not None:
            _live.move_to_end(key)
            return compiled
        compiled = _live[key] = CompiledRuleset(load(), version)
        while len(_live) > MAX_LIVE_RULESETS:
            _live.popitem(last=False)[1].close()
        return compiled
