"""Template syntax checks for validation, with a shortcut that spares Jinja the simple ones.

Templates and conditions made only of names, attributes, string and integer literals, a few
operators and filters are valid whatever they say; anything else (a keyword, a block tag,
whitespace control, a newline inside a tag) goes to Jinja. Results are remembered by text, so
a body shared by many documents is checked once.
"""

from __future__ import annotations

import functools
import re

from orchestrator.errors import Diagnostic, TemplateError
from orchestrator.templating import (
    Where,
    check_expression,
    check_syntax,
    status_function_misuse,
)


def check_template_syntax(text: str, where: Where, *, body: bool) -> None:
    """``check_syntax``, remembering the texts already known to be valid templates (a
    status function outside ``if`` is reported with the other names, in ``references``)."""
    if not _valid_template(text, body):
        check_syntax(text, where, body=body)


def check_condition_syntax(expression: str, where: Where) -> None:
    """``check_expression``, remembering the expressions already known to be valid; a status
    function called with arguments, or named without being called, is an error too."""
    if not _valid_expression(expression):
        check_expression(expression, where)
    for problem in status_function_misuse(expression)[:1]:
        raise TemplateError(
            Diagnostic(where.path, where.line, 1, f"{where.what}: {problem}", code=CODE)
        )


CODE = "template"


_NAME = (
    r"(?!(?:and|or|not|in|is|if|else|elif|for|recursive|true|false|none|True|False|None)"
    r"(?![A-Za-z0-9_]))[A-Za-z_][A-Za-z0-9_]*"
)
_ATOM = (
    rf"(?:{_NAME}(?:[ \t]*\.[ \t]*{_NAME})*"
    r"|'[^'\\{}\n]*'|\"[^\"\\{}\n]*\"|0|[1-9][0-9]*)"
)
_SIMPLE_TAG = (
    rf"\{{\{{[ \t]*{_ATOM}(?:[ \t]*[%~+][ \t]*{_ATOM})*(?:[ \t]*\|[ \t]*{_NAME})*[ \t]*\}}\}}"
)
_ARITHMETIC = rf"{_ATOM}(?:[ \t]*[%~+][ \t]*{_ATOM})*"
_COMPARISON = rf"{_ARITHMETIC}(?:[ \t]*(?:[=!]=|[<>]=?)[ \t]*{_ARITHMETIC})*"
_OPERAND = rf"(?:not[ \t]+)?{_COMPARISON}"
_SIMPLE_CONDITION = rf"[ \t]*{_OPERAND}(?:[ \t]+(?:and|or)[ \t]+{_OPERAND})*[ \t]*"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use: a document without templates never needs them, and compiling
    # both costs a one-step orch apply several milliseconds of its start-up.
    return re.compile(pattern)


def _simple_template(text: str, body: bool) -> bool:
    """Whether ``text`` is plain text with simple ``{{ ... }}`` tags only."""
    if "{%" in text or "\x00" in text or (not body and "{#" in text):
        return False
    position = 0
    while (start := text.find("{{", position)) >= 0:
        tag = _compiled(_SIMPLE_TAG).match(text, start)
        if tag is None:
            return False
        position = tag.end()
    return True


@functools.lru_cache(maxsize=4096)
def _valid_template(text: str, body: bool) -> bool:
    if _simple_template(text, body):
        return True
    try:
        check_syntax(text, Where("", 1), body=body)
    except TemplateError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _valid_expression(expression: str) -> bool:
    if _compiled(_SIMPLE_CONDITION).fullmatch(expression):
        return True
    try:
        check_expression(expression, Where("", 1))
    except TemplateError:
        return False
    return True
