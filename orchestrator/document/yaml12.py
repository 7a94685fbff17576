"""YAML 1.2 values with positions, built from parse events.

The values are built from the parser's events by the YAML 1.2 core schema: ``on`` and
``yes`` stay strings, ``0017`` is 17, ``0x1F`` is 31, ``.inf`` is a float, a quoted scalar is
always a string and dates are text. Only plain data comes out (``dict``, ``list``, ``str``,
``int``, ``float``, ``bool``, ``None``): tags other than the core ones are errors, never
constructed. Every key and item keeps its position in a map from JSON path to 1-based file
``(line, col)``.

Building from events needs no recursion, so hostile input is cut short: nesting deeper than
``MAX_DEPTH`` is refused at the first level too many, and aliases may not expand to more than
``MAX_ALIAS_VALUES`` values in all (a "billion laughs" document is refused, not expanded).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from orchestrator.errors import Diagnostic

JsonPath = tuple[str | int, ...]

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted (typical front matter uses 4)."""

MAX_ALIAS_VALUES = 10_000
"""Most values that aliases (``*name``) may add to a document, all aliases together."""


class FrontMatterError(Exception):
    """Raised inside this package; the caller turns it into diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(str(d) for d in diagnostics))


@dataclass
class Positions:
    """1-based file ``(line, col)`` of every key (for map entries) and item (for lists)."""

    keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    values: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: JsonPath) -> tuple[int, int]:
        """Where ``path`` is: its scalar value, else its key, else the nearest parent."""
        for candidate in _prefixes(path):
            if candidate in self.values:
                return self.values[candidate]
            if candidate in self.keys:
                return self.keys[candidate]
        return (1, 1)

    def key(self, path: JsonPath) -> tuple[int, int]:
        """Where the key of ``path`` is (falls back like ``of``)."""
        return self.keys.get(path) or self.of(path)


def _prefixes(path: JsonPath) -> Iterator[JsonPath]:
    for end in range(len(path), -1, -1):
        yield path[:end]


_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (
    _CORE + name for name in ("str", "int", "float", "bool", "null")
)
_MAP, _SEQ = _CORE + "map", _CORE + "seq"
_TAG_NOUNS = {_NULL: "null", _BOOL: "true or false", _INT: "an integer", _FLOAT: "a number"}
_INT_TEXT = re.compile(
    r"[-+]?(?:0b[01_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)",
)
_FLOAT_TEXT = re.compile(
    r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
    r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN)"
)
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_NUMBER_START = frozenset("-+.0123456789")


def _plain_value(text: str) -> Any:
    """An untagged plain scalar, resolved by the YAML 1.2 core schema."""
    if not text or text[0] not in _NUMBER_START:
        if text in _NULLS:
            return None
        return _BOOLS.get(text, text)
    if _INT_TEXT.fullmatch(text):
        number = _int(text)
        return text if number is None else number
    if _FLOAT_TEXT.fullmatch(text):
        real = _float(text)
        return text if real is None else real
    return text


def _int(text: str) -> int | None:
    digits = text.replace("_", "")
    sign = -1 if digits[:1] == "-" else 1
    digits = digits.lstrip("+-")
    base = 10
    if digits[:2] in ("0b", "0o", "0x"):
        base = {"0b": 2, "0o": 8, "0x": 16}[digits[:2]]
        digits = digits[2:]
    try:
        return sign * int(digits, base)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    digits = text.replace("_", "").lower()
    if digits.endswith(".nan"):
        return math.nan
    if digits.endswith(".inf"):
        return -math.inf if digits[0] == "-" else math.inf
    try:
        return float(digits)
    except ValueError:
        return None


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _key_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Anchor:
    """An anchored value, its size and depth, and the positions inside it."""

    value: Any
    size: int
    height: int
    # Positions inside the anchored value, relative to it.
    keys: list[tuple[JsonPath, tuple[int, int]]]
    values: list[tuple[JsonPath, tuple[int, int]]]


@dataclass
class _Node:
    """A mapping or list being built."""

    value: Any
    where: JsonPath
    mark: Any
    anchor: str | None
    count_at_start: int
    keys_at_start: int
    values_at_start: int
    height: int = 0
    # Mappings: the key waiting for its value (None: the next scalar is a key).
    key: str | None = None
    key_is_merge: bool = False
    merges: list[Any] = field(default_factory=list)
    merge_mark: Any = None


class EventBuilder:
    """Plain values and positions from parse events, one document."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.positions = Positions()
        self.problems: list[Diagnostic] = []
        self.anchors: dict[str, _Anchor] = {}
        self.count = 0
        self.expanded = 0
        # Positions in the order they were found, so an anchored value can take its own.
        self.key_log: list[tuple[JsonPath, tuple[int, int]]] = []
        self.value_log: list[tuple[JsonPath, tuple[int, int]]] = []

    def fail(self, mark: Any, message: str) -> FrontMatterError:
        return FrontMatterError(
            [Diagnostic(self.path, mark.line + 1, mark.column + 1, message, code="yaml")]
        )

    def problem(self, mark: Any, message: str) -> None:
        self.problems.append(
            Diagnostic(self.path, mark.line + 1, mark.column + 1, message, code="yaml")
        )

    def build(self, next_event: Callable[[], Any]) -> Any:
        stack: list[_Node] = []
        result: Any = None
        documents = 0
        keys, values = self.positions.keys, self.positions.values
        key_log, value_log = self.key_log, self.value_log
        while (event := next_event()) is not None:
            kind = type(event)
            if kind is ScalarEvent:
                self.count += 1
                if event.tag is not None or event.anchor is not None or not stack:
                    value = self.scalar(event)
                    if stack:
                        self.add(stack[-1], value, event.start_mark, 0, scalar=True, event=event)
                    else:
                        result = value
                    continue
                # The common case, kept short: an untagged scalar inside a collection.
                text: str = event.value
                value = text if event.style else _plain_value(text)
                parent = stack[-1]
                mark = event.start_mark
                position = (mark.line + 1, mark.column + 1)
                container = parent.value
                key = parent.key
                if type(container) is list:
                    where = (*parent.where, len(container))
                    keys[where] = position
                    key_log.append((where, position))
                    container.append(value)
                elif key is None and type(value) is str and (event.style or text != "<<"):
                    if value in container:
                        self.duplicate(parent, value, mark)
                    where = (*parent.where, value)
                    keys[where] = position
                    key_log.append((where, position))
                    parent.key = value
                    container[value] = None
                elif key is not None and not parent.key_is_merge:
                    where = (*parent.where, key)
                    values[where] = position
                    value_log.append((where, position))
                    container[key] = value
                    parent.key = None
                else:
                    self.add(parent, value, mark, 0, scalar=True, event=event)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                is_map = kind is MappingStartEvent
                self.check_collection_tag(event, _MAP if is_map else _SEQ)
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(
                        event.start_mark,
                        f"invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)",
                    )
                self.count += 1
                stack.append(
                    _Node(
                        value={} if is_map else [],
                        where=self.child_path(stack[-1], event) if stack else (),
                        mark=event.start_mark,
                        anchor=event.anchor,
                        count_at_start=self.count,
                        keys_at_start=len(self.key_log),
                        values_at_start=len(self.value_log),
                    )
                )
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                node = stack.pop()
                if node.merges:
                    self.merge(node)
                if node.anchor is not None:
                    self.remember(node)
                if stack:
                    self.add(stack[-1], node.value, node.mark, node.height + 1, scalar=False)
                else:
                    result = node.value
            elif kind is AliasEvent:
                self.alias(event, stack)
                if not stack:
                    result = self.anchors[event.anchor].value
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise self.fail(
                        event.start_mark,
                        "invalid YAML: more than one document: the front matter is one "
                        "YAML document",
                    )
        return result

    def duplicate(self, parent: _Node, name: str, mark: Any) -> None:
        first = self.positions.keys[(*parent.where, name)][0]
        raise self.fail(
            mark, f"duplicate key '{name}' (first at line {first}): keep one of the two"
        )

    def scalar(self, event: Any) -> Any:
        tag = event.tag
        text: str = event.value
        if tag is None:
            if event.style:  # quoted or block: always a string
                value: Any = text
            else:
                value = _plain_value(text)
        elif tag == "!" or tag == _STR:
            value = text
        elif tag in (_NULL, _BOOL, _INT, _FLOAT):
            value = _plain_value(text)
            fits = {
                _NULL: value is None,
                _BOOL: isinstance(value, bool),
                _INT: isinstance(value, int) and not isinstance(value, bool),
                _FLOAT: isinstance(value, (int, float)) and not isinstance(value, bool),
            }[tag]
            if not fits:
                # The text is not repeated: it may be a secret (an inputs file holds them).
                self.problem(
                    event.start_mark,
                    f"YAML tag '{_short_tag(tag)}': the value is not {_TAG_NOUNS[tag]}",
                )
                value = None
            elif tag == _FLOAT:
                value = float(value)
        else:
            self.problem(
                event.start_mark, f"YAML tag '{_short_tag(tag)}' is not allowed in front matter"
            )
            value = None
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(value, 1, 0, [], [])
        return value

    def check_collection_tag(self, event: Any, expected: str) -> None:
        tag = event.tag
        if tag is not None and tag != "!" and tag != expected:
            self.problem(
                event.start_mark, f"YAML tag '{_short_tag(tag)}' is not allowed in front matter"
            )

    def child_path(self, parent: _Node, event: Any) -> JsonPath:
        """The path of a collection starting inside ``parent``; refuses collection keys."""
        if isinstance(parent.value, list):
            return (*parent.where, len(parent.value))
        if parent.key is None:
            raise self.fail(
                event.start_mark,
                "invalid YAML: a key must be a plain value, not a mapping or a list",
            )
        return (*parent.where, parent.key)

    def add(
        self,
        parent: _Node,
        value: Any,
        mark: Any,
        height: int,
        *,
        scalar: bool,
        event: Any = None,
    ) -> None:
        """Put ``value`` (starting at ``mark``) into the collection being built."""
        parent.height = max(parent.height, height)
        position = (mark.line + 1, mark.column + 1)
        if isinstance(parent.value, list):
            where = (*parent.where, len(parent.value))
            self.positions.keys[where] = position
            self.key_log.append((where, position))
            parent.value.append(value)
            return
        if parent.key is None:
            if not scalar:  # an alias of a collection used as a key
                raise self.fail(
                    mark, "invalid YAML: a key must be a plain value, not a mapping or a list"
                )
            if event is not None and event.tag is None and not event.style and event.value == "<<":
                if parent.key_is_merge or parent.merge_mark is not None:
                    raise self.fail(mark, "duplicate key '<<'")
                parent.key_is_merge = True
                parent.merge_mark = mark
                parent.key = "<<"
                return
            name = value if isinstance(value, str) else _key_name(value)
            where = (*parent.where, name)
            if name in parent.value:
                self.duplicate(parent, name, mark)
            parent.key = name
            parent.value[name] = None
            self.positions.keys[where] = position
            self.key_log.append((where, position))
            return
        if parent.key_is_merge:
            parent.key_is_merge = False
            parent.key = None
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(source, dict) for source in sources):
                raise self.fail(mark, "invalid YAML: '<<' merges a mapping or a list of mappings")
            parent.merges.extend(sources)
            return
        if scalar:
            where = (*parent.where, parent.key)
            self.positions.values[where] = position
            self.value_log.append((where, position))
        parent.value[parent.key] = value
        parent.key = None

    def merge(self, node: _Node) -> None:
        """``<<: *defaults``: keys of the merged mappings that the mapping lacks."""
        for source in node.merges:
            for name, value in source.items():
                if name not in node.value:
                    node.value[name] = value

    def remember(self, node: _Node) -> None:
        assert node.anchor is not None
        cut = len(node.where)
        self.anchors[node.anchor] = _Anchor(
            value=node.value,
            size=self.count - node.count_at_start + 1,
            height=node.height + 1,
            keys=[(where[cut:], pos) for where, pos in self.key_log[node.keys_at_start :]],
            values=[(where[cut:], pos) for where, pos in self.value_log[node.values_at_start :]],
        )

    def alias(self, event: Any, stack: list[_Node]) -> None:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise self.fail(
                event.start_mark,
                f"invalid YAML: unknown alias '*{event.anchor}': a value starting with '*' "
                f"names an anchor (&{event.anchor}); put the value in quotes if the '*' is text",
            )
        self.expanded += anchor.size
        if self.expanded > MAX_ALIAS_VALUES:
            raise self.fail(
                event.start_mark,
                f"invalid YAML: aliases expand to more than {MAX_ALIAS_VALUES} values",
            )
        if len(stack) + anchor.height > MAX_DEPTH:
            raise self.fail(
                event.start_mark,
                f"invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)",
            )
        self.count += anchor.size
        if not stack:
            return
        parent = stack[-1]
        scalar = anchor.height == 0
        if (parent.key is not None and not parent.key_is_merge) or isinstance(parent.value, list):
            base = self.child_path(parent, event)
            for rel, pos in anchor.keys:
                self.positions.keys[(*base, *rel)] = pos
                self.key_log.append(((*base, *rel), pos))
            for rel, pos in anchor.values:
                self.positions.values[(*base, *rel)] = pos
                self.value_log.append(((*base, *rel), pos))
        value = anchor.value if scalar else copy.deepcopy(anchor.value)
        self.add(parent, value, event.start_mark, anchor.height, scalar=scalar)
