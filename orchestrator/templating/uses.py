"""What a template uses from its context: names with their constant attribute chains, filters,
tests, and loads of other templates.

``jinja2.meta.find_undeclared_variables`` gives only the top-level names; checking
``steps.build.outputs.version`` needs the whole chain. Texts whose tags are simple (names,
attribute chains, literals, operators and filters without arguments) are read here with a
regular expression, without Jinja; any other text goes to the Jinja walk in ``names``, and a
property test checks that both read the simple texts alike.
"""

from __future__ import annotations

import functools
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
_SKIPPED_ROOTS = _KEYWORDS | _LITERALS

# The grammar of a simple expression, as one regular expression (matched in C, which is what
# makes reading the usual templates cheap): operands (a name with its attributes, a string,
# a number), each followed by filters without arguments, joined by operators.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_OPERAND_NAME = r"(?!(?:and|or|not|in|is|if|else|elif|for|recursive)(?![A-Za-z0-9_]))" + _NAME
_CHAIN = rf"{_NAME}(?:[ \t]*\.[ \t]*{_NAME})*"
_STRING = r"'[^'\\{}\n]*'|\"[^\"\\{}\n]*\""
_OPERAND = (
    rf"(?:{_STRING}|[0-9]+(?:\.[0-9]+)?|{_OPERAND_NAME}(?:[ \t]*\.[ \t]*{_NAME})*)"
    rf"(?:[ \t]*\|[ \t]*{_NAME})*"
)
# ``not`` starts an operand only at the start or after ``and``/``or``: after a comparison or
# an arithmetic operator Jinja does not read it as ``not`` (``a == not b``), so such a text
# is left to Jinja's parser.
_NOTS = r"(?:not[ \t]+)*"
_OPERATOR = (
    rf"[ \t]+(?:and|or)[ \t]+{_NOTS}"
    r"|[ \t]*(?:==|!=|<=|>=|[<>~+%*/-])[ \t]*|[ \t]+(?:not[ \t]+)?in[ \t]+"
)
_EXPRESSION = rf"[ \t]*{_NOTS}{_OPERAND}(?:(?:{_OPERATOR}){_OPERAND})*[ \t]*"
_PARTS = rf"(?:{_STRING})|\|[ \t]*({_NAME})|({_CHAIN})"
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SEGMENT_SPLIT = re.compile(r"[ \t]*\.[ \t]*")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use: most documents' step bodies hold no template at all, and these
    # patterns cost a one-step orch apply milliseconds of its start-up.
    return re.compile(pattern)


class NotSimple(Exception):
    """The text needs Jinja's parser."""


def simple_template_uses(source: str, *, body: bool) -> Uses:
    """The uses of a text whose tags are all simple ``{{ ... }}`` ones; raises ``NotSimple``
    otherwise."""
    if "{%" in source or "\x00" in source or (not body and "{#" in source):
        raise NotSimple
    names: list[NameUse] = []
    filters: list[tuple[str, int]] = []
    tags = 0
    for tag in _TAG.finditer(source):
        tags += 1
        inner = tag.group(1)
        if "\n" in inner or _compiled(_EXPRESSION).fullmatch(inner) is None:
            raise NotSimple
        _read(inner, source.count("\n", 0, tag.start()) + 1, names, filters)
    if tags != source.count("{{"):
        raise NotSimple
    return Uses(names=tuple(names), filters=tuple(filters))


def simple_expression_uses(expression: str) -> Uses:
    """The uses of a simple expression (an ``if`` condition); raises ``NotSimple``."""
    if "\n" in expression or _compiled(_EXPRESSION).fullmatch(expression) is None:
        raise NotSimple
    names: list[NameUse] = []
    filters: list[tuple[str, int]] = []
    _read(expression, 1, names, filters)
    return Uses(names=tuple(names), filters=tuple(filters))


def _read(text: str, line: int, names: list[NameUse], filters: list[tuple[str, int]]) -> None:
    """The names and filters of a simple expression, in order."""
    for match in _compiled(_PARTS).finditer(text):
        filter_name, chain = match.groups()
        if filter_name is not None:
            filters.append((filter_name, line))
        elif chain is not None:
            parts = _SEGMENT_SPLIT.split(chain)
            if parts[0] not in _SKIPPED_ROOTS:
                names.append(NameUse(parts[0], tuple(Segment(part) for part in parts[1:]), line))
