"""YAML loaded safely, keeping the line of every key and item so errors can point at them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import RuleError, RuleFileError

Path = tuple  # keys and indexes from the document root
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


@dataclass
class Document:
    file: str
    data: object
    lines: dict = field(default_factory=dict)  # Path → 1-based line
    raw: dict = field(default_factory=dict)  # Path → source text of numeric scalars (exact decimals)

    def line(self, path: Path) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path, message: str) -> RuleError:
        return RuleError(self.file, self.line(path), format_path(path), message)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def load_document(file: str, text: str) -> Document:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise RuleFileError([RuleError(file, line, "(document)", f"YAML syntax error: {e.problem or e}")]) from None
    doc = Document(file, None)
    if node is None:
        raise RuleFileError([RuleError(file, 1, "(document)", "the file is empty")])
    errors: list[RuleError] = []
    constructor = SafeConstructor()
    doc.data = _build(node, (), doc, constructor, errors)
    if errors:
        raise RuleFileError(errors)
    return doc


def _build(node, path: Path, doc: Document, constructor: SafeConstructor, errors: list):
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if node.tag not in _PLAIN_TAGS:  # e.g. !!python/object: never constructed, refused
        errors.append(RuleError(doc.file, node.start_mark.line + 1, format_path(path),
                                f"YAML tag {node.tag!r} is not allowed in a rule file"))
        return None
    if isinstance(node, MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                errors.append(RuleError(doc.file, key_node.start_mark.line + 1, format_path(path),
                                        "keys must be plain text"))
                continue
            key = constructor.construct_object(key_node)
            key = key if isinstance(key, str) else str(key)
            if key in out:
                errors.append(RuleError(doc.file, key_node.start_mark.line + 1, format_path(path + (key,)),
                                        f"duplicate key '{key}' (first on line {doc.lines[path + (key,)]})"))
                continue
            doc.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, path + (key,), doc, constructor, errors)
        return out
    if isinstance(node, SequenceNode):
        return [_build(item, path + (i,), doc, constructor, errors) for i, item in enumerate(node.value)]
    value = constructor.construct_object(node)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        doc.raw[path] = node.value
    if isinstance(value, (date, datetime)):  # dates stay text: the schema checks their form
        return node.value
    return value
