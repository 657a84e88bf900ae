"""Rule file text → RuleFile, or RuleFileError listing every problem with file:line and path. The file's
kind (see kinds/) parses what only it knows — its section or rules, its tests' `expect`; the
checks every kind shares (the schema, the tests' `given`) are here."""
from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

from jsonschema import Draft202012Validator

from .conditions import facts_in
from .errors import FactError, RuleError, RuleFileError, did_you_mean
from .facts import coerce
from .kinds import PATTERN_MEANING as KIND_PATTERNS, kind as kind_of
from .loader import MAX_BYTES, Document, load_document, too_large
from .model import RuleFile, RuleTest, facts_of
from .schema import PATTERN_MEANING, json_schema

_validator = Draft202012Validator(json_schema())
_JSON_TYPES = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
               float: "a number", type(None): "nothing"}
_SCHEMA_TYPES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "an integer",
                 "number": "a number"}
_MEANING = {**PATTERN_MEANING, **KIND_PATTERNS}


def load_rule_file(file: str | Path, text: str | None = None) -> RuleFile:
    file = str(file)
    if text is None:
        text = read_bounded(file)
    doc = load_document(file, text)
    errors = schema_errors(doc)
    if errors:
        raise RuleFileError(errors)
    return _semantic(doc, text)


def read_bounded(file: str) -> str:
    """The file's text; never more than a rule file may hold, however large the file is."""
    try:
        with open(file, encoding="utf-8") as f:
            text = f.read(MAX_BYTES + 1)
    except UnicodeDecodeError:
        raise RuleFileError([RuleError(file, 1, "(document)", "the file is not UTF-8 text")]) from None
    if len(text) > MAX_BYTES:
        raise too_large(file)
    return text


def schema_errors(doc: Document) -> list[RuleError]:
    out: list[RuleError] = []
    for e in _validator.iter_errors(doc.data):
        path = tuple(e.absolute_path)
        if e.validator in ("if", "allOf", "then"):
            continue
        if e.validator == "additionalProperties":
            allowed = list(e.schema.get("properties", {}))
            extra = [k for k in e.instance if k not in allowed]
            for key in extra:
                out.append(doc.error(path + (key,), f"unknown key '{key}'{did_you_mean(key, allowed)}"
                                     f" (expected one of: {', '.join(allowed)})"))
        elif e.validator == "required":
            missing = e.message.split("'")[1]
            out.append(doc.error(path, f"missing required key '{missing}'"))
        elif e.validator == "type":
            types = [e.validator_value] if isinstance(e.validator_value, str) else e.validator_value
            expected = " or ".join(_SCHEMA_TYPES.get(t, t) for t in types)
            out.append(doc.error(path, f"expected {expected}, got {_JSON_TYPES.get(type(e.instance), 'a value')}"
                                 f" {e.instance!r}" if not isinstance(e.instance, (dict, list)) else
                                 f"expected {expected}, got {_JSON_TYPES[type(e.instance)]}"))
        elif e.validator == "enum":
            choices = [str(c) for c in e.validator_value]
            out.append(doc.error(path, f"{e.instance!r} is not allowed{did_you_mean(str(e.instance), choices)}"
                                 f" (expected one of: {', '.join(choices)})"))
        elif e.validator == "pattern":
            if "propertyNames" in e.schema_path:  # the key itself is wrong; point at it
                path = path + (e.instance,)
            meaning = _MEANING.get(e.validator_value)
            if meaning is None and e.validator_value.endswith("(s|m|h|d)$"):
                meaning = "a duration like 30s, 15m, 24h or 2d"
            out.append(doc.error(path, f"{e.instance!r} is not {meaning or 'valid: ' + e.validator_value}"))
        elif e.validator == "not":  # a key that another kind of file uses
            out.append(doc.error(path, f"'{path[-1]}' does not belong in a {doc.data.get('kind')} file"))
        elif e.validator in ("minItems", "minProperties", "minLength"):
            out.append(doc.error(path, "must not be empty"))
        else:
            out.append(doc.error(path, e.message))
    return sorted(set(out))


def _semantic(doc: Document, text: str) -> RuleFile:
    data = doc.data
    errors: list[RuleError] = []
    kind = kind_of(data["kind"])
    facts = facts_of(kind.facts_for(data))
    spec, rules, default = kind.parse(doc, facts, errors)
    read = {f for r in rules for f in facts_in(r.condition)}
    # A derived fact is computed from its sources: a test gives those instead.
    read = {s for f in read for s in kind.derived.get(f, (f,))}
    tests = []
    for i, raw in enumerate(data.get("tests", [])):
        given, ok = {}, True
        for name, value in raw["given"].items():
            path = ("tests", i, "given", name)
            if name not in facts:
                errors.append(doc.error(path, f"undeclared fact '{name}'{did_you_mean(name, facts)}"))
                ok = False
                continue
            if name in kind.derived:
                errors.append(doc.error(path, f"'{name}' is derived from {' and '.join(kind.derived[name])};"
                                              " give those instead"))
                ok = False
                continue
            if path in doc.raw and isinstance(value, float):
                value = Decimal(doc.raw[path])  # 1500.50 in YAML is a float; keep the exact text
            try:
                given[name] = coerce(facts[name], value)
            except FactError as e:
                errors.append(doc.error(path, str(e)))
                ok = False
        missing = [f for f in facts if f in read and f not in raw["given"] and f not in kind.defaults]
        if missing:
            errors.append(doc.error(("tests", i, "given"), f"missing fact '{missing[0]}' (a test gives every fact the rules read)"))
            ok = False
        expect = kind.expectation(doc, ("tests", i, "expect"), raw["expect"], errors, rules)
        ok = ok and expect is not None
        if ok:
            tests.append(RuleTest(raw["name"], given, expect, doc.line(("tests", i))))
    if data.get("running_processes") == "follow_latest" and not kind.follows_latest:
        errors.append(doc.error(("running_processes",), f"a {data['kind']} file cannot say follow_latest: only a "
                                                        "tiering run reads its file again in later steps"))
    if errors:
        raise RuleFileError(errors)
    return RuleFile(file=doc.file, name=data["ruleset"], kind=data["kind"], description=data.get("description", ""),
                    facts=facts, rules=tuple(rules), default=default, tests=tuple(tests), source=text,
                    sha256=hashlib.sha256(text.encode()).hexdigest(), spec=spec,
                    running_processes=data.get("running_processes", "pinned"))

