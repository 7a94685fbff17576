"""YAML syntax errors in words a writer understands, at the line to fix.

libyaml (and ruamel.yaml's Python parser, which words orch's YAML errors) says what the
parser expected: ``expected <block end>, but found '<block mapping start>'``. The common
mistakes behind such messages are recognised from the message and the lines around it, and
explained with the fix: wrong indentation, a tab, an unclosed bracket or quote, a ``: `` in a
plain value, a template at the start of a value, a missing space after ``:``, a directive.
The line and column are those of the culprit: the opening bracket or quote, not the end of
the text where the parser gave up. Anything else keeps the parser's words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_KEY = re.compile(
    r"^(?P<indent>[ ]*)(?P<dash>-[ ]+)?"
    r"(?P<key>[^\s:#'\"{\[][^:#]*?|'[^']*'|\"[^\"]*\"):(?:[ \t]+|$)"
)
_BLOCK_SCALAR = re.compile(r":[ \t]*[|>][0-9+-]*[ \t]*(?:#.*)?$")
_TEMPLATE_VALUE = re.compile(r"^[ ]*(?:-[ ]+)?(?:[^:#{]+:[ \t]+)?\{\{")


@dataclass(frozen=True)
class Worded:
    """A YAML problem told in a sentence, at its line and column."""

    line: int  # 1-based, in the text given
    col: int
    message: str


def directive(text: str) -> Worded | None:
    """A ``%YAML``/``%TAG`` directive at the start of the front matter: it needs a ``---``
    after it, which would end the front matter."""
    for index, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.startswith("%"):
            return Worded(
                index + 1,
                1,
                f"invalid YAML: '{stripped}' is a YAML directive, which front matter cannot "
                "have (the '---' it needs would end the front matter): remove the line; orch "
                "reads YAML 1.2",
            )
        return None
    return None


def translate(
    problem: str,
    context: str,
    problem_mark: Any,
    context_mark: Any,
    text: str,
    *,
    show_values: bool = True,
) -> Worded | None:
    """The writer's sentence for a parser error, or None to keep the parser's words.

    ``show_values=False``: the fix never repeats a value of the text (an inputs file may hold
    secrets); keys are shown, they are names."""
    lines = text.split("\n")
    at = _Place(lines, problem_mark)
    opened = _Place(lines, context_mark) if context_mark is not None else None
    for place in (at, opened):
        if place is not None and _TEMPLATE_VALUE.match(place.text):
            return _template_value(place, show_values)
    if problem.startswith("found character '\\t'"):
        return at.worded(
            "invalid YAML: a tab character: YAML indents with spaces only; replace the tab "
            "with spaces"
        )
    if problem.startswith("found character '") and "cannot start any token" in problem:
        return _reserved_start(at, problem.split("'")[1], show_values)
    if problem == "mapping values are not allowed here":
        return _colon(at, show_values)
    if problem.startswith("expected <block end>, but found"):
        return _block_end(at, problem.removeprefix("expected <block end>, but found").strip())
    if opened is not None and re.match(r"expected ',' or '[\]}]', but got", problem):
        return _flow(opened, at, problem)
    if problem == "found unexpected end of stream" and "quoted scalar" in context and opened:
        quote = opened.text[opened.col - 1 : opened.col] or '"'
        return opened.worded(
            f"invalid YAML: the quote {quote} opened here is never closed: end the value with "
            f"{quote} (a {quote} inside it is written " + ("''" if quote == "'" else '\\"') + ")"
        )
    if problem == "could not find expected ':'" and opened is not None:
        return _no_colon(opened, show_values)
    if problem.startswith("expected '<document start>'") and at.text.startswith("%"):
        return at.worded(
            "invalid YAML: a line starting with '%' is a YAML directive: quote the value, "
            "or indent the line under its key"
        )
    return None


class _Place:
    """A mark: 1-based line and column, the text of its line, and the lines above it."""

    def __init__(self, lines: Sequence[str], mark: Any) -> None:
        self.lines = lines
        self.index = mark.line
        self.line = mark.line + 1
        self.col = mark.column + 1
        self.text = lines[mark.line] if 0 <= mark.line < len(lines) else ""

    def worded(self, message: str, col: int | None = None) -> Worded:
        return Worded(self.line, self.col if col is None else col, message)

    def above(self) -> list[tuple[int, str]]:
        """``(line, text)`` of the lines above that hold something, nearest first."""
        found = []
        for index in range(self.index - 1, -1, -1):
            text = self.lines[index]
            if text.strip() and not text.strip().startswith("#"):
                found.append((index + 1, text))
        return found


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _quoted(key: str, value: str, show: bool) -> str:
    """``": key: "value""``, the line as it should be written, or nothing when values are not
    to be shown."""
    if not show:
        return ""
    if '"' not in value and "\\" not in value:
        return f': {key}: "{value}"'
    return f": {key}: '" + value.replace("'", "''") + "'"


def _template_value(place: _Place, show: bool) -> Worded:
    match = _KEY.match(place.text)
    value = place.text[match.end() :].strip() if match else place.text.strip().lstrip("- ")
    fix = _quoted(match.group("key"), value, show) if match else ""
    fix = f": write{fix[1:]}" if fix else ""
    col = place.text.find("{{") + 1
    return place.worded(
        "invalid YAML: a value that starts with '{{' must be in quotes, or YAML reads the "
        f"'{{' as the start of a mapping{fix}",
        col,
    )


def _reserved_start(place: _Place, char: str, show: bool) -> Worded:
    match = _KEY.match(place.text)
    if match is not None and place.col - 1 >= match.end():
        value = place.text[match.end() :].strip()
        return place.worded(
            f"invalid YAML: a plain value cannot start with '{char}': put the value in quotes"
            + _quoted(match.group("key"), value, show)
        )
    return place.worded(
        f"invalid YAML: '{char}' cannot start a key or a value: put the text in quotes"
    )


def _colon(place: _Place, show: bool) -> Worded:
    match = _KEY.match(place.text)
    if match is not None and place.col - 1 > match.end() - 1:
        key = match.group("key")
        value = place.text[match.end() :].strip()
        return place.worded(
            f"invalid YAML: the ': ' in the value of '{key}' would start another key: put the "
            f"value in quotes{_quoted(key, value, show)}"
        )
    above = place.above()
    key = match.group("key") if match else place.text.strip()
    if above:
        line, text = above[0]
        previous = _KEY.match(text)
        if previous is not None and text[previous.end() :].strip():
            name = previous.group("key")
            return place.worded(
                f"invalid YAML: '{key}' is indented more than '{name}' (line {line}) as if it "
                f"belonged under it, but '{name}' already has a value: indent '{key}' like "
                f"'{name}'",
                _indent(place.text) + 1,
            )
    return place.worded(
        f"invalid YAML: '{key}:' cannot start a key here, inside the value above it: line it "
        "up with the keys it belongs with",
        _indent(place.text) + 1,
    )


def _levels(place: _Place) -> list[int]:
    """Indentations of the lines enclosing ``place``, innermost first."""
    levels: list[int] = []
    for _, text in place.above():
        indent = _indent(text)
        if not levels or indent < levels[-1]:
            levels.append(indent)
        if indent == 0:
            break
    return levels


def _block_end(place: _Place, found: str) -> Worded:
    text = place.text.strip()
    if found in ("'<block mapping start>'", "'<block sequence start>'"):
        levels = [str(level) for level in _levels(place)] or ["0"]
        shown = levels[0] if len(levels) == 1 else f"{', '.join(levels[:-1])} or {levels[-1]}"
        spaces = _indent(place.text)
        return place.worded(
            f"invalid YAML: wrong indentation: this line is indented by {spaces} "
            f"space{'' if spaces == 1 else 's'}, but the lines above it are at {shown}: indent "
            "it like the keys (or list items) it belongs with",
            _indent(place.text) + 1,
        )
    if found == "'-'":
        return place.worded(
            "invalid YAML: a list item where a key was expected: put the list under its key "
            "('secrets:' and, on the next lines, '  - NAME')"
        )
    if found == "'?'":
        return place.worded(
            f"invalid YAML: '{text}' is a key among list items: start it with '- ' to make it "
            "an item, or line it up with the keys of the mapping it belongs to",
            _indent(place.text) + 1,
        )
    if found == "'<scalar>'":
        before = place.text[: place.col - 1]
        if before.rstrip().endswith(("'", '"')):
            return place.worded(
                "invalid YAML: text after the closing quote of a value: put the whole value "
                "in the quotes"
            )
    return place.worded(
        "invalid YAML: this line cannot continue the mapping above it: write 'key: value' "
        "lines lined up with their mapping (and quote values that hold ': ' or start with a "
        "quote)"
    )


def _flow(opened: _Place, at: _Place, problem: str) -> Worded:
    bracket = "]" if "']'" in problem else "}"
    opening = "[" if bracket == "]" else "{"
    kind = "list" if bracket == "]" else "mapping"
    if at.line != opened.line or "<stream end>" in problem:
        return opened.worded(
            f"invalid YAML: the '{opening}' of this {kind} is never closed: add '{bracket}' "
            f"after its last {'item' if kind == 'list' else 'entry'}"
        )
    return opened.worded(
        f"invalid YAML: cannot read the {kind} that starts here: separate its "
        f"{'items' if kind == 'list' else 'entries'} with ', ', put a value that holds ': ' or "
        f"',' in quotes, and close it with '{bracket}'"
    )


def _no_colon(opened: _Place, show: bool) -> Worded:
    above = opened.above()
    if above and _BLOCK_SCALAR.search(above[0][1]):
        return opened.worded(
            "invalid YAML: the text of a block value ('|' or '>') must be indented more than "
            f"its key (line {above[0][0]}): indent this line",
            1,
        )
    squeezed = re.match(r"^[ ]*(?:-[ ]+)?([A-Za-z0-9_-]+):(\S.*)$", opened.text)
    if squeezed is not None:
        key, value = squeezed.groups()
        shown = f": write {key}: {value}" if show else ""
        return opened.worded(f"invalid YAML: '{key}' needs a space after its ':'{shown}")
    return opened.worded(
        "invalid YAML: this line is not 'key: value': add ': ' after the key, or indent it "
        "under the key whose value it continues"
    )


def template_value(text: str, line: int, *, show_values: bool = True) -> Worded | None:
    """``A: {{ inputs.x }}``: YAML reads a mapping in a mapping; the writer meant a template."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines) or not _TEMPLATE_VALUE.match(lines[line - 1]):
        return None

    class _Mark:
        pass

    mark = _Mark()
    mark.line, mark.column = line - 1, 0  # type: ignore[attr-defined]
    return _template_value(_Place(lines, mark), show_values)
