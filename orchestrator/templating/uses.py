"""What a template uses from its context: names with their constant attribute chains, filters,
tests, and loads of other templates.

``jinja2.meta.find_undeclared_variables`` gives only the top-level names; checking
``steps.build.outputs.version`` needs the whole chain. Texts whose tags are simple (names,
attribute chains, literals, operators and filters without arguments) are read here with a
regular expression, without Jinja; any other text goes to the Jinja walk in ``names``, and a
property test checks that both read the simple texts alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """One constant step of a chain: ``.name`` (``item=False``) or ``['name']`` / ``[0]``."""

    name: str
    item: bool = False


@dataclass(frozen=True)
class NameUse:
    """A name the template takes from its context, and what it reads of it.

    ``path`` holds the constant attributes and items after the name, up to the first one
    computed at run time (``inputs[key]``: ``dynamic``). ``guarded``: the use is tested with
    ``is defined`` / ``is undefined`` or given a ``default``, so a missing value does not
    fail the render."""

    name: str
    path: tuple[Segment, ...]
    line: int
    guarded: bool = False
    dynamic: bool = False
    # The template sets the name itself, but only after this use.
    set_later: bool = False


@dataclass(frozen=True)
class Uses:
    """Everything a template takes from outside itself, with its (1-based) template line."""

    names: tuple[NameUse, ...] = ()
    filters: tuple[tuple[str, int], ...] = ()
    tests: tuple[tuple[str, int], ...] = ()
    # ``include``, ``import``, ``extends``: a document's templates have nothing to load.
    loads: tuple[tuple[str, int], ...] = ()


# Filters used often enough that checking them should not need Jinja: all of them are
# Jinja's own or orch's (``sh``, ``py``); any other name is looked up in Jinja's list.
COMMON_FILTERS = frozenset(
    {"sh", "py", "upper", "lower", "trim", "default", "d", "int", "string", "tojson", "length"}
)

_KEYWORDS = frozenset({"and", "or", "not", "in"})
_LITERALS = frozenset({"true", "false", "none", "True", "False", "None"})
_TOKEN = re.compile(
    r"""
    (?P<space>[ \t]+)
    | (?P<string>'[^'\\{}\n]*'|"[^"\\{}\n]*")
    | (?P<number>[0-9]+(?:\.[0-9]+)?)
    | (?P<chain>[A-Za-z_][A-Za-z0-9_]*(?:[ \t]*\.[ \t]*[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<filter>\|[ \t]*[A-Za-z_][A-Za-z0-9_]*)
    | (?P<operator>==|!=|<=|>=|[<>~+%*/-])
    """,
    re.VERBOSE,
)
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SEGMENT_SPLIT = re.compile(r"[ \t]*\.[ \t]*")
_OPERAND_KINDS = frozenset({"string", "number", "chain"})


class NotSimple(Exception):
    """The text needs Jinja's parser."""


def simple_template_uses(source: str, *, body: bool) -> Uses:
    """The uses of a text whose tags are all simple ``{{ ... }}`` ones; raises ``NotSimple``
    otherwise."""
    if "{%" in source or "\x00" in source or (not body and "{#" in source):
        raise NotSimple
    names: list[NameUse] = []
    filters: list[tuple[str, int]] = []
    position = 0
    while (start := source.find("{{", position)) >= 0:
        tag = _TAG.match(source, start)
        if tag is None:
            raise NotSimple
        inner = tag.group(1)
        if "{" in inner or "}" in inner or "\n" in inner or inner[:1] in "-+" or inner[-1:] in "-+":
            raise NotSimple
        line = source.count("\n", 0, start) + 1
        _read_expression(inner, line, names, filters)
        position = tag.end()
    return Uses(names=tuple(names), filters=tuple(filters))


def simple_expression_uses(expression: str) -> Uses:
    """The uses of a simple expression (an ``if`` condition); raises ``NotSimple``."""
    if "\n" in expression or "{" in expression or "}" in expression:
        raise NotSimple
    names: list[NameUse] = []
    filters: list[tuple[str, int]] = []
    _read_expression(expression, 1, names, filters)
    return Uses(names=tuple(names), filters=tuple(filters))


def _read_expression(
    text: str, line: int, names: list[NameUse], filters: list[tuple[str, int]]
) -> None:
    """Tokens of one simple expression: operands joined by operators, each operand followed
    by filters. Anything else (calls, ``is``, ``if``, brackets) raises ``NotSimple``."""
    position = 0
    want_operand = True
    found_any = False
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise NotSimple
        position = match.end()
        kind = match.lastgroup
        value = match.group()
        if kind == "space":
            continue
        found_any = True
        if kind == "chain" and value in _KEYWORDS:
            if value == "not" and want_operand:
                continue
            if want_operand:
                raise NotSimple
            want_operand = True
            continue
        if kind in _OPERAND_KINDS:
            if not want_operand:
                raise NotSimple
            want_operand = False
            if kind == "chain":
                _chain(value, line, names)
        elif kind == "filter":
            if want_operand:
                raise NotSimple
            filters.append((value[1:].strip(), line))
        else:  # an operator
            if want_operand:
                raise NotSimple
            want_operand = True
    if want_operand or not found_any:
        raise NotSimple


def _chain(text: str, line: int, names: list[NameUse]) -> None:
    parts = _SEGMENT_SPLIT.split(text)
    if (
        parts[0] in _LITERALS
        or parts[0] in _KEYWORDS
        or any(part in _KEYWORDS or part in _LITERALS or part in _RESERVED for part in parts)
    ):
        if len(parts) == 1 and parts[0] in _LITERALS:
            return
        raise NotSimple
    names.append(NameUse(parts[0], tuple(Segment(part) for part in parts[1:]), line))


# Words Jinja's expression parser treats specially wherever they stand.
_RESERVED = frozenset({"is", "if", "else", "elif", "for", "recursive"})
