"""The JSON Schema of rule files: the one the validator uses and the one published for editors. Each
kind (see kinds/) brings its outcome schema and, for a document kind, its section's schema."""
from __future__ import annotations

import json
from pathlib import Path

from .kinds import KINDS, KindPlugin

FACT_NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
RULE_NAME = r"^[a-z0-9][a-z0-9-]*$"
RULESET_NAME = r"^[a-z][a-z0-9_]*$"
FACT_TYPES = ["int", "decimal", "money", "bool", "string", "enum", "set"]
SCHEMA_ID = "https://dealerflow.dev/schemas/rule-file.schema.json"

# What a pattern means, for error messages a business admin can act on.
PATTERN_MEANING = {
    FACT_NAME: "a fact name like dealer.rating (lower case, dotted)",
    RULE_NAME: "a rule name like approve-within-headroom (lower case, digits, hyphens)",
    RULESET_NAME: "a ruleset name like credit_approval (lower case, digits, underscores)",
}


def json_schema() -> dict:
    defs = {
        "fact": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {"enum": FACT_TYPES},
                "values": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "description": {"type": "string"},
            },
        },
        "rule": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "when", "then"],
            "properties": {
                "name": {"type": "string", "pattern": RULE_NAME},
                "description": {"type": "string"},
                "priority": {"type": "integer"},
                "when": {"type": "string", "minLength": 1,
                         "description": "A condition: comparisons, and/or/not, in [...], + - * /"},
                "then": {"type": "object"},
            },
        },
        "test": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "given", "expect"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "given": {"type": "object", "propertyNames": {"pattern": FACT_NAME}},
                "expect": {"type": "object", "minProperties": 1,
                           "description": "Outcome keys that must match; `rule` names the winning rule"},
            },
        },
    }
    for name, kind in KINDS.items():
        defs[f"outcome_{name}"] = kind.outcome
    sections = {k.section: k.section_schema for k in KINDS.values() if k.section}
    sections.update({name: schema for k in KINDS.values() for name, schema in k.settings.items()})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "dealerflow rule file",
        "type": "object",
        "additionalProperties": False,
        "required": ["ruleset", "kind"],
        "properties": {
            "$schema": {"type": "string"},
            "ruleset": {"type": "string", "pattern": RULESET_NAME},
            "kind": {"enum": sorted(KINDS)},
            "description": {"type": "string"},
            "running_processes": {"enum": ["pinned", "follow_latest"],
                                  "description": "when this version goes live, processes already running (a"
                                                 " tiering run, a settlement) keep the version they started with"
                                                 " (pinned, the default) or follow this one (follow_latest)"},
            "facts": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": FACT_NAME},
                      "additionalProperties": {"$ref": "#/$defs/fact"}},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
            "default": {"type": "object"},
            **sections,
            "tests": {"type": "array", "items": {"$ref": "#/$defs/test"}},
        },
        "allOf": [_per_kind(name, kind) for name, kind in sorted(KINDS.items())] + [
            {"if": {"properties": {"facts": {"type": "object"}}},
             "then": {"properties": {"facts": {"additionalProperties": {
                 "if": {"properties": {"type": {"const": "enum"}}, "required": ["type"]},
                 "then": {"required": ["values"]}}}}}}],
        "$defs": defs,
    }


NOT_HERE = {"not": {}, "description": "belongs to another kind of rule file"}


def _per_kind(name: str, kind: KindPlugin) -> dict:
    others = {key: NOT_HERE for k in KINDS.values() if k is not kind for key in k.settings}
    if kind.section:  # a document kind: its section, built-in facts, derived rules
        then = {"required": [kind.section],
                "properties": {"facts": NOT_HERE, "rules": NOT_HERE, "default": NOT_HERE,
                               **{k.section: NOT_HERE for k in KINDS.values() if k.section and k is not kind},
                               **others}}
    else:
        then = {"required": ["facts", "rules", "default"],
                "properties": {"default": {"$ref": f"#/$defs/outcome_{name}"},
                               "rules": {"items": {"properties": {"then": {"$ref": f"#/$defs/outcome_{name}"}}}},
                               **{k.section: NOT_HERE for k in KINDS.values() if k.section}, **others}}
    return {"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]}, "then": then}


def write_json_schema(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
