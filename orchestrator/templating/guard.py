"""The injection guarantee: every piece of outside text in a rendered script is checked.

After a script step's body is rendered, each marked part (see ``marks``) must be either

- quoted for the step's language, standing where a quoted value holds (a whole shell word
  in code; whole Python tokens where an expression may stand), or
- made only of characters that cannot change the syntax: for shell, ASCII letters, digits
  and ``._-:/@+=,``; in Python, the same inside a string literal or a comment, and a plain
  number anywhere; in an ``interpreter=`` step, a plain number;

or the step is refused, naming the line and the way to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.templating import pythonsyntax, shellsyntax
from orchestrator.templating.language import SHELL_SAFE_CHARACTERS, ScriptLanguage
from orchestrator.templating.marks import Kind, Part

_SHELL_SAFE = re.compile(r"[A-Za-z0-9._\-:/@+=,]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


_FILTER = {ScriptLanguage.SH: "sh", ScriptLanguage.PYTHON: "py"}
_QUOTES_FOR = {"sh": "the shell", "python": "Python"}


@dataclass(frozen=True)
class Placed:
    """A marked part at its place in the rendered body, with the template line that wrote it."""

    part: Part
    line: int | None


@dataclass(frozen=True)
class Refusal:
    line: int | None
    message: str


def check(body: str, placed: list[Placed], language: ScriptLanguage, shown: str) -> Refusal | None:
    """The first problem with outside text in ``body`` (None: every part is fine)."""
    checked = [p for p in placed if p.part.kind is not Kind.PLACEHOLDER]
    if not checked:
        return None
    places = _places(_neutral(body, placed), checked, language)
    if isinstance(places, Refusal):
        return places
    for item in sorted(checked, key=lambda p: p.part.start):
        message = _problem(body, item.part, language, shown, places.get(item.part.start))
        if message is not None:
            return Refusal(item.line, message)
    return None


def _neutral(body: str, placed: list[Placed]) -> str:
    """``body`` as the document shaped it, for finding where each part stands: every part
    replaced by a stand-in of the same length that cannot change the syntax around it (a
    quoted part by a quoted word, anything else by letters). A part is accepted only where
    it stands as a whole word or literal, so the body around accepted parts reads the same
    with the real values; where a part is refused, the stand-ins keep the message about that
    part from depending on what the value did to the rest of the script."""
    chars = list(body)
    for item in placed:
        part = item.part
        length = part.end - part.start
        value = body[part.start : part.end]
        if part.kind is Kind.QUOTED:
            stand_in = "'" + "x" * (length - 2) + "'" if length >= 2 else "0" * length
        elif part.kind is Kind.TAINTED and _SHELL_SAFE.fullmatch(value):
            stand_in = value
        else:
            stand_in = "x" * length
        chars[part.start : part.end] = stand_in
    return "".join(chars)


def _places(body: str, checked: list[Placed], language: ScriptLanguage) -> dict[int, str] | Refusal:
    if language is ScriptLanguage.SH:
        return shellsyntax.contexts(body, [p.part.start for p in checked])
    if language is ScriptLanguage.PYTHON:
        spans = [(p.part.start, p.part.end) for p in checked]
        try:
            found = pythonsyntax.placements(body, spans)
        except pythonsyntax.Untokenizable as exc:
            return Refusal(
                checked[0].line,
                f"the rendered Python does not tokenize ({exc}), so orch cannot check where "
                "outside values stand in it: fix the script",
            )
        return {start: place for (start, _), place in zip(spans, found, strict=True)}
    return {}


def _problem(
    body: str, part: Part, language: ScriptLanguage, shown: str, place: str | None
) -> str | None:
    value = body[part.start : part.end]
    what = f"a value made from {part.origin}" if part.derived else part.origin
    if part.kind is Kind.QUOTED:
        return _quoted_problem(body, part, language, shown, place, what)
    if language is ScriptLanguage.SH:
        if _SHELL_SAFE.fullmatch(value):
            if place in (shellsyntax.DOLLAR, shellsyntax.PARAMETER):
                # ${{ inputs.name }}: the value would choose which variable is expanded.
                return (
                    f"{what} stands {place}, where it would choose the variable to expand: "
                    "a value from outside cannot name a variable (declare an enum to choose "
                    "among known ones)"
                )
            return None
        return (
            f"{what} reaches the {shown} script unquoted and holds characters that can change "
            f"its syntax: {_fix(part, language)} (unquoted, a value may hold only "
            f"{SHELL_SAFE_CHARACTERS})"
        )
    if language is ScriptLanguage.PYTHON:
        if _NUMBER.fullmatch(value) and place == pythonsyntax.EXPRESSION:
            return None
        if _SHELL_SAFE.fullmatch(value) and place in (
            pythonsyntax.INSIDE_STRING,
            pythonsyntax.INSIDE_COMMENT,
        ):
            return None
        in_code = place in (pythonsyntax.EXPRESSION, pythonsyntax.STRADDLING)
        where = (
            "stands unquoted in the Python code"
            if in_code
            else "is written into the Python script unquoted"
        )
        return f"{what} {where}, where it can change the script's syntax: {_fix(part, language)}"
    if _NUMBER.fullmatch(value):
        return None
    return (
        f"{what} reaches the body of an interpreter= step, and orch knows no quoting for "
        f"{shown}: {_fix(part, language)}"
    )


def _quoted_problem(
    body: str, part: Part, language: ScriptLanguage, shown: str, place: str | None, what: str
) -> str | None:
    used = _FILTER.get(ScriptLanguage(part.language), part.language)
    if language is ScriptLanguage.OTHER:
        return (
            f"{what} is quoted with the {used} filter, but orch knows no quoting for the "
            f"{shown} of this interpreter= step: {_fix(part, language)}"
        )
    if part.language != language.value:
        return (
            f"{what} is quoted with the {used} filter, which quotes for "
            f"{_QUOTES_FOR[part.language]}, but this is a {shown} step: use the "
            f"{_FILTER[language]} filter ({{{{ {_expression(part)} | {_FILTER[language]} }}}})"
        )
    if language is ScriptLanguage.SH:
        if place == shellsyntax.CODE:
            return None
        return (
            f"{what}, quoted with the sh filter, stands {place}, where shell quoting "
            "does not hold: put it where a whole word may stand, outside any quotes "
            f'(echo "hello "{{{{ {_expression(part)} | sh }}}})'
            + (", or pass it in the environment" if place == shellsyntax.HEREDOC else "")
        )
    if place == pythonsyntax.EXPRESSION:
        return None
    return (
        f"{what}, quoted with the py filter, stands {place}, where a Python literal does not "
        f'hold: put it where an expression may stand (print("hello " + '
        f"{{{{ {_expression(part)} | py }}}}))"
    )


def _expression(part: Part) -> str:
    return part.origin if not part.derived else "..."


def _fix(part: Part, language: ScriptLanguage) -> str:
    variable = _environment_variable(part.origin)
    if language is ScriptLanguage.OTHER:
        if variable:
            return f"read it from the environment (${variable}) instead"
        return "pass it through a file or the environment instead"
    quote = _FILTER[language]
    target = part.origin if not part.derived else "..."
    fix = (
        f"quote it with the {quote} filter, as the last thing done to it "
        f"({{{{ {target} | {quote} }}}})"
    )
    if variable:
        read = f'"${variable}"' if language is ScriptLanguage.SH else f'os.environ["{variable}"]'
        fix += f", or use {read}"
    return fix


def _environment_variable(origin: str) -> str | None:
    if origin.startswith("inputs."):
        name = origin.removeprefix("inputs.")
        return "ORCH_INPUT_" + name.upper().replace("-", "_")
    if origin.startswith("env."):
        return origin.removeprefix("env.")
    return None
