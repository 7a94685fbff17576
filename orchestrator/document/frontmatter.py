"""Front matter: split with python-frontmatter, read as YAML 1.2 with source positions.

The loader is ruamel.yaml in round-trip mode: ``on`` stays a string key, ``0017`` is 17, no
arbitrary Python objects are built, and every key and item keeps its line and column. The
result is converted to plain ``dict``/``list``/scalars for schema validation, together with a
map from JSON path to the 1-based file position of that key or item.
"""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from frontmatter.default_handlers import BaseHandler
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from orchestrator.errors import Diagnostic

JsonPath = tuple[str | int, ...]


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


@dataclass(frozen=True)
class Split:
    """A document cut into its front matter and its Markdown body."""

    front_matter: str
    body: str
    # File line (1-based) of the body's first line is ``body_offset + 1``; a 0-based line
    # number within ``body`` maps to the file line ``body_offset + line + 1``.
    body_offset: int


class _Handler(BaseHandler):
    """python-frontmatter handler: exactly ``---`` lines, first line of the file."""

    FM_BOUNDARY = re.compile(r"^---[ \t]*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "---"

    def load(self, fm: str, **kwargs: object) -> Any:
        return _loader().load(fm)


_HANDLER = _Handler()
_LOCAL = threading.local()


def _loader() -> YAML:
    """One round-trip YAML 1.2 loader per thread (a loader is not thread-safe)."""
    yaml: YAML | None = getattr(_LOCAL, "yaml", None)
    if yaml is None:
        yaml = YAML(typ="rt")
        yaml.version = (1, 2)
        _LOCAL.yaml = yaml
    return yaml


def split(text: str, path: str) -> Split:
    """Cut ``text`` (newlines already normalised) at its ``---`` lines."""
    if not _HANDLER.detect(text):
        raise FrontMatterError(
            [
                Diagnostic(
                    path,
                    1,
                    1,
                    "no front matter: an intent document starts with a '---' line, then "
                    "YAML (id, title, ...), then a closing '---' line",
                )
            ]
        )
    try:
        front_matter, body = _HANDLER.split(text)
    except ValueError:
        raise FrontMatterError(
            [Diagnostic(path, 1, 1, "front matter is not closed: add a '---' line after it")]
        ) from None
    # ``front_matter`` starts with the newline that ends the opening line, so YAML line N
    # (0-based) is file line N + 1; the closing line follows its last line.
    closing_line = 1 + front_matter.count("\n")
    return Split(front_matter=front_matter, body=body, body_offset=closing_line - 1)


def load(front_matter: str, path: str) -> tuple[Any, Positions]:
    """Load the YAML front matter; returns plain data and positions."""
    try:
        raw = _HANDLER.load(front_matter)
    except MarkedYAMLError as exc:
        raise FrontMatterError([_yaml_diagnostic(exc, path)]) from None
    except YAMLError as exc:
        raise FrontMatterError(
            [Diagnostic(path, 1, 1, f"invalid YAML: {_one_line(exc)}")]
        ) from None
    except RecursionError:
        raise FrontMatterError(
            [Diagnostic(path, 1, 1, "invalid YAML: nested too deeply")]
        ) from None
    positions = Positions()
    problems: list[Diagnostic] = []
    data = _plain(raw, (), positions, problems, path)
    if problems:
        raise FrontMatterError(problems)
    return data, positions


def _yaml_diagnostic(exc: MarkedYAMLError, path: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "found duplicate key" in problem or type(exc).__name__ == "DuplicateKeyError":
        key = re.search(r'duplicate key "([^"]*)"', problem)
        name = key.group(1) if key else "?"
        message = f"duplicate key '{name}'"
        first = _first_occurrence(exc, name)
        if first is not None:
            message += f" (first at line {first})"
        return Diagnostic(path, line, col, message)
    context = ""
    if exc.context:
        context = f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark.line + 1 != line:
            context += f" started at line {exc.context_mark.line + 1}"
        context += ")"
    return Diagnostic(path, line, col, f"invalid YAML: {_one_line_text(problem)}{context}")


def _first_occurrence(exc: MarkedYAMLError, key: str) -> int | None:
    """Line of the first of two duplicate keys, searched from the mapping's start."""
    start, end = exc.context_mark, exc.problem_mark
    if start is None or end is None or not getattr(start, "buffer", None):
        return None
    lines = str(start.buffer).split("\n")
    indent = start.column
    for number in range(start.line, end.line):
        text = lines[number] if number < len(lines) else ""
        stripped = text[indent:] if len(text) - len(text.lstrip()) == indent else ""
        if stripped.startswith((f"{key}:", f'"{key}":', f"'{key}':")):
            return number + 1
    return None


def _one_line_text(text: str) -> str:
    return " ".join(text.split())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _plain(
    node: Any, where: JsonPath, positions: Positions, problems: list[Diagnostic], path: str
) -> Any:
    """Turn ruamel's round-trip types into JSON-like values, recording positions."""
    if isinstance(node, CommentedMap):
        result: dict[str, Any] = {}
        for key, value in node.items():
            name = key if isinstance(key, str) else _scalar_key(key)
            child = (*where, name)
            try:
                line, col = node.lc.key(key)
                positions.keys[child] = (line + 1, col + 1)
                if not isinstance(value, (CommentedMap, CommentedSeq)):
                    vline, vcol = node.lc.value(key)
                    positions.values[child] = (vline + 1, vcol + 1)
            except (KeyError, TypeError, AttributeError):
                pass  # merged keys (``<<``) have no position of their own
            result[name] = _plain(value, child, positions, problems, path)
        return result
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*where, index)
            try:
                line, col = node.lc.item(index)
                positions.keys[child] = (line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_plain(value, child, positions, problems, path))
        return items
    if isinstance(node, TaggedScalar):
        line, col = positions.of(where)
        problems.append(
            Diagnostic(path, line, col, f"YAML tag '{node.tag}' is not allowed in front matter")
        )
        return None
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    line, col = positions.of(where)
    problems.append(
        Diagnostic(path, line, col, f"unsupported YAML value of type {type(node).__name__}")
    )
    return None


def _scalar_key(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (tuple, list, dict, CommentedMap, CommentedSeq)):
        return str(list(key) if not isinstance(key, dict) else dict(key))
    return str(key)
