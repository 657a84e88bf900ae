"""YAML loaded safely, keeping the line of every key and item so errors can point at them.

Rule files come from admins' editors and the API, so reading one is bounded: its size, how deep it
nests and how much its aliases repeat are checked while the YAML is composed, before any value is
built — an alias bomb or a loop is refused after a few thousand nodes, not after gigabytes. Only
plain tags are constructed; any other tag, on a key or a value, is refused."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import RuleError, RuleFileError

Path = tuple  # keys and indexes from the document root
_YAML = "tag:yaml.org,2002:"
# The tags a rule file may hold, by the kind of node they are on; nothing else is constructed.
_PLAIN_TAGS = {ScalarNode: {_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp")},
               MappingNode: {_YAML + "map"}, SequenceNode: {_YAML + "seq"}}
MAX_BYTES = 1 << 20  # the rule files in use are a few KiB
MAX_DEPTH = 64  # nesting of lists and mappings; also keeps building the document far from the recursion limit
MAX_ALIASED = 10_000  # values aliases may repeat, all together
MAX_VALUES = 20_000  # values written out: pure-Python YAML takes seconds for a MiB of short values


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


class _Refused(Exception):
    def __init__(self, mark, path: Path, message: str):
        super().__init__(message)
        self.line, self.path, self.message = mark.line + 1, path, message


class _BoundedLoader(yaml.SafeLoader):
    """Composes nodes as SafeLoader does, refusing deep nesting and alias expansion as it goes.
    Each finished node's size (values, aliases expanded) and height are kept, so an alias costs what
    it would repeat, and an alias to a node still being composed is a loop."""

    def __init__(self, stream):
        super().__init__(stream)
        self._path: list = []
        self._finished: dict = {}  # node → (size, height)
        self._aliased = self._values = 0

    def compose_node(self, parent, index):
        part = index.value if isinstance(index, ScalarNode) else index  # None for a mapping's key
        self._path.append(part)
        try:
            event = self.peek_event()
            if self.check_event(AliasEvent) and event.anchor in self.anchors:
                target = self.anchors[event.anchor]
                if target not in self._finished:
                    raise _Refused(event.start_mark, self.path(),
                                   f"the alias *{event.anchor} is inside what it names: it would repeat forever")
                size, height = self._finished[target]
                self._aliased += size
                if self._aliased > MAX_ALIASED:
                    raise _Refused(event.start_mark, self.path(), f"aliases (*name) repeat more than {MAX_ALIASED}"
                                                                  " values: a rule file may not repeat that much")
                self._check_depth(event.start_mark, height)
                return super().compose_node(parent, index)
            self._check_depth(event.start_mark, 1)
            self._values += 1
            if self._values > MAX_VALUES:
                raise _Refused(event.start_mark, self.path(), f"the file holds more than {MAX_VALUES} values:"
                                                              " a rule file may not be that large")
            node = super().compose_node(parent, index)
            children = [c for pair in node.value for c in pair] if isinstance(node, MappingNode) else (
                node.value if isinstance(node, SequenceNode) else [])
            sizes = [self._finished[c] for c in children]
            self._finished[node] = (1 + sum(s for s, _ in sizes), 1 + max((h for _, h in sizes), default=0))
            return node
        finally:
            self._path.pop()

    def path(self) -> Path:
        return tuple(p for p in self._path if p is not None)

    def _check_depth(self, mark, height: int) -> None:
        if len(self._path) - 1 + height > MAX_DEPTH:
            raise _Refused(mark, self.path(), f"nested more than {MAX_DEPTH} levels deep: a rule file may not"
                                              " nest that much")


def too_large(file: str) -> RuleFileError:
    return RuleFileError([RuleError(file, 1, "(document)", f"the file is larger than {MAX_BYTES >> 20} MiB,"
                                                           " the most a rule file may be")])


def load_document(file: str, text: str) -> Document:
    if len(text) > MAX_BYTES or len(text.encode("utf-8")) > MAX_BYTES:
        raise too_large(file)
    try:
        node = yaml.compose(text, Loader=_BoundedLoader)
    except _Refused as e:
        raise RuleFileError([RuleError(file, e.line, format_path(e.path), e.message)]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise RuleFileError([RuleError(file, line, "(document)", f"YAML syntax error: {e.problem or e}")]) from None
    except yaml.reader.ReaderError as e:  # a control character: the reader has no line marks
        line = text.count("\n", 0, e.position) + 1
        raise RuleFileError([RuleError(file, line, "(document)", f"the file holds a control character"
                                                                 f" (#x{e.character:x}), which a rule file may not")]) from None
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
    if node.tag not in _PLAIN_TAGS[type(node)]:  # e.g. !!python/object: never constructed, refused
        errors.append(_tag_error(doc, node, path))
        return None
    if isinstance(node, MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                errors.append(RuleError(doc.file, key_node.start_mark.line + 1, format_path(path),
                                        "keys must be plain text"))
                continue
            if key_node.tag not in _PLAIN_TAGS[ScalarNode]:  # a key is refused like a value
                errors.append(_tag_error(doc, key_node, path + (key_node.value,)))
                continue
            problems = len(errors)
            key = _scalar(key_node, path + (key_node.value,), doc, constructor, errors)
            if len(errors) > problems:
                continue
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
    value = _scalar(node, path, doc, constructor, errors)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        doc.raw[path] = node.value
    if isinstance(value, (date, datetime)):  # dates stay text: the schema checks their form
        return node.value
    return value


def _scalar(node: ScalarNode, path: Path, doc: Document, constructor: SafeConstructor, errors: list):
    """A plain scalar's value; an explicit tag the text does not fit (`!!int abc`) is an error."""
    try:
        return constructor.construct_object(node)
    except Exception:  # SafeConstructor raises ValueError, KeyError or AttributeError here
        errors.append(RuleError(doc.file, node.start_mark.line + 1, format_path(path),
                                f"{node.value!r} is not a valid {node.tag.replace(_YAML, '!!')}"))
        return None


def _tag_error(doc: Document, node, path: Path) -> RuleError:
    message = ("merge keys (<<) are not supported in a rule file: write the keys out" if node.tag == _YAML + "merge"
               else f"YAML tag {node.tag!r} is not allowed in a rule file")
    return RuleError(doc.file, node.start_mark.line + 1, format_path(path), message)
