"""Front matter: cut at its ``---`` lines, read as YAML 1.2 with source positions.

The YAML is parsed into events by libyaml (ruamel.yaml's C parser; ruamel.yaml's pure
Python parser when the C extension is missing); ``yaml12`` builds the values from them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ruamel.yaml.main
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from orchestrator.errors import Diagnostic

from . import yamlwords
from .yaml12 import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    EventBuilder,
    FrontMatterError,
    JsonPath,
    Positions,
)

# libyaml's parser, from ruamel.yaml.clib; None when that extension is not installed.
CParser: Any = getattr(ruamel.yaml.main, "CParser", None)


@dataclass(frozen=True)
class Split:
    """A document cut into its front matter and its Markdown body."""

    front_matter: str
    body: str
    # File line (1-based) of the body's first line is ``body_offset + 1``; a 0-based line
    # number within ``body`` maps to the file line ``body_offset + line + 1``.
    body_offset: int


# A line of exactly ``---`` (trailing blanks allowed). The document must start with one; the
# next one closes the front matter. This is python-frontmatter's split (``detect`` is a match
# at the start, ``split`` a split at the first two such lines) with orch's own boundary; the
# library is not imported for it: it imports PyYAML, which orch does not use, and that was a
# tenth of the start-up of ``orch apply`` (docs/performance.md, "Start-up").
_BOUNDARY = re.compile(r"^---[ \t]*$", re.MULTILINE)


def parser_name() -> str:
    """Which YAML parser reads front matter: ``"libyaml"`` (C) or ``"python"``."""
    return "libyaml" if CParser is not None else "python"


def _events(text: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    """A function giving the next parse event of ``text`` (None at the end), and a closer.

    The events come from the C parser when it is available.
    """
    if CParser is None:
        events = YAML(typ="safe", pure=True).parse(text)
        return functools.partial(next, events, None), events.close
    parser = CParser(text)
    return parser.get_event, parser.dispose


def split(text: str, path: str) -> Split:
    """Cut ``text`` (newlines already normalised) at its ``---`` lines."""
    if not _BOUNDARY.match(text):
        raise FrontMatterError(
            [
                Diagnostic(
                    path,
                    1,
                    1,
                    "no front matter: an intent document starts with a '---' line, then "
                    "YAML (id, title, ...), then a closing '---' line",
                    code="unreadable",
                )
            ]
        )
    try:
        _, front_matter, body = _BOUNDARY.split(text, 2)
    except ValueError:
        raise FrontMatterError(
            [
                Diagnostic(
                    path, 1, 1, "front matter is not closed: add a '---' line after it", code="yaml"
                )
            ]
        ) from None
    # ``front_matter`` starts with the newline that ends the opening line, so YAML line N
    # (0-based) is file line N + 1; the closing line follows its last line.
    closing_line = 1 + front_matter.count("\n")
    return Split(front_matter=front_matter, body=body, body_offset=closing_line - 1)


def load(front_matter: str, path: str, *, show_values: bool = True) -> tuple[Any, Positions]:
    """Load the YAML front matter; returns plain data and positions. ``show_values=False``:
    messages never repeat a value of the text (for inputs files, which hold secrets)."""
    worded = yamlwords.directive(front_matter)
    if worded is not None:
        raise FrontMatterError([_worded(worded, path)])
    builder = EventBuilder(path)
    next_event, close = _events(front_matter)
    try:
        data = builder.build(next_event)
    except YAMLError as exc:
        raise FrontMatterError([_syntax_diagnostic(exc, front_matter, path, show_values)]) from None
    except FrontMatterError as exc:
        raise FrontMatterError(
            [_reworded(d, front_matter, show_values) for d in exc.diagnostics]
        ) from None
    except AssertionError as exc:  # the parser's own checks of odd input: still a YAML error
        message = f"invalid YAML: {_one_line(exc) or 'the parser refused it'}"
        raise FrontMatterError([Diagnostic(path, 1, 1, message, code="yaml")]) from None
    finally:
        close()
    if builder.problems:
        raise FrontMatterError(builder.problems)
    return data, builder.positions


def _worded(worded: yamlwords.Worded, path: str) -> Diagnostic:
    return Diagnostic(path, worded.line, worded.col, worded.message, code="yaml")


def _reworded(diagnostic: Diagnostic, text: str, show_values: bool) -> Diagnostic:
    """A value starting with ``{{`` read as a mapping by YAML: say it needs quotes."""
    worded = yamlwords.template_value(text, diagnostic.line, show_values=show_values)
    return diagnostic if worded is None else _worded(worded, diagnostic.path)


def _syntax_diagnostic(exc: YAMLError, text: str, path: str, show_values: bool) -> Diagnostic:
    """The diagnostic of a YAML syntax error, worded by ruamel.yaml's Python parser.

    libyaml words its errors differently ("did not find expected ..."); the Python parser,
    run again on the failing text only, gives the same message whether or not the C
    parser is installed.
    """
    if CParser is not None:
        try:
            for _ in YAML(typ="safe", pure=True).parse(text):
                pass
        except YAMLError as worded:
            exc = worded
    if isinstance(exc, MarkedYAMLError):
        if exc.problem_mark is not None:
            translated = yamlwords.translate(
                exc.problem or "",
                exc.context or "",
                exc.problem_mark,
                exc.context_mark,
                text,
                show_values=show_values,
            )
            if translated is not None:
                return _worded(translated, path)
        return _yaml_diagnostic(exc, path)
    return Diagnostic(path, 1, 1, f"invalid YAML: {_one_line(exc)}", code="yaml")


def _yaml_diagnostic(exc: MarkedYAMLError, path: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    context = ""
    if exc.context:
        context = f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark.line + 1 != line:
            context += f" started at line {exc.context_mark.line + 1}"
        context += ")"
    message = f"invalid YAML: {_one_line_text(problem)}{context}"
    return Diagnostic(path, line, col, message, code="yaml")


def _one_line_text(text: str) -> str:
    return " ".join(text.split())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# The YAML 1.2 core schema, with the spellings ruamel.yaml also reads as numbers in 1.2
# mode (``_`` separators, ``0b`` binary, signed hexadecimal), as orch always has.


__all__ = [
    "MAX_ALIAS_VALUES",
    "MAX_DEPTH",
    "FrontMatterError",
    "JsonPath",
    "Positions",
    "Split",
    "load",
    "parser_name",
    "split",
]
