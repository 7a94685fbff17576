"""Jinja2, sandboxed and strict: compiling and rendering (the sandbox is in ``sandbox``).

Imported by the package only when a text holds template syntax.

Step bodies, ``env`` values, ``if`` conditions and artifact fields are all rendered here. The
environment is sandboxed (no attribute walking into Python internals), undefined names are
errors, the final newline is kept, and in step bodies Jinja comments are off because ``{#`` is
ordinary shell (``${#ARR[@]}``). A render is bounded in time and size (``limits``); a script
step's body is checked for outside text that could change its syntax (``guard``).
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from orchestrator.errors import Diagnostic, TemplateError, TemplateRefused
from orchestrator.templating import guard, limits
from orchestrator.templating.language import ScriptLanguage
from orchestrator.templating.marks import Text, plain
from orchestrator.templating.sandbox import BODY_ENV, TEXT_ENV, Refused, instrument
from orchestrator.templating.where import Where


def _error(
    where: Where, lineno: int | None, message: str, *, refused: bool = False
) -> TemplateError:
    line = where.line + (lineno - 1 if lineno else 0)
    diagnostic = Diagnostic(where.path, line, 1, f"{where.what}: {message}", code="template")
    return TemplateRefused(diagnostic) if refused else TemplateError(diagnostic)


def _environment(body: bool) -> jinja2.Environment:
    return BODY_ENV if body else TEXT_ENV


@functools.lru_cache(maxsize=512)
def _compiled(source: str, body: bool) -> jinja2.Template:
    env = _environment(body)
    return env.from_string(instrument(env.parse(source), env))


@functools.lru_cache(maxsize=512)
def _compiled_expression(expression: str) -> jinja2.environment.TemplateExpression:
    parser = jinja2.parser.Parser(TEXT_ENV, expression, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise jinja2.TemplateSyntaxError(
            "chunk after expression", parser.stream.current.lineno, None, None
        )
    result = jinja2.nodes.Assign(jinja2.nodes.Name("result", "store"), expr, lineno=1)
    tree = jinja2.nodes.Template([result], lineno=1)
    template = TEXT_ENV.from_string(instrument(tree, TEXT_ENV))
    return jinja2.environment.TemplateExpression(template, False)


def _compile(source: str, where: Where, *, body: bool) -> jinja2.Template:
    try:
        return _compiled(source, body)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, exc.lineno, f"template syntax error: {exc.message}") from None


def _render_failure(where: Where, exc: Exception, *, lines: bool = True) -> TemplateError:
    """``exc``, raised while rendering, as orch's error; ``lines=False`` for an expression
    (one line: its own line numbers mean nothing)."""
    lineno = _failing_line(exc) if lines else None
    if isinstance(exc, (limits.LimitExceeded, Refused)):
        return _error(where, lineno, str(exc), refused=True)
    if isinstance(exc, SecurityError):
        return _error(where, lineno, f"refused by the template sandbox: {exc}")
    if isinstance(exc, jinja2.UndefinedError):
        return _error(where, lineno, f"{exc.message}")
    if isinstance(exc, RecursionError):
        return _error(where, lineno, "macros call each other too deeply (RecursionError)")
    return _error(where, lineno, f"{type(exc).__name__}: {exc}")


def _failing_line(exc: Exception) -> int | None:
    """The template line of the innermost template frame (Jinja rewrites tracebacks so that
    frames of ``<template>`` carry template line numbers)."""
    tb = exc.__traceback__
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _current_line(stream: Iterator[str], template: jinja2.Template) -> int | None:
    """The template line that wrote the piece ``stream`` just gave."""
    generator: Any = stream
    code_line = None
    while generator is not None:
        frame = getattr(generator, "gi_frame", None)
        if frame is not None and frame.f_code.co_filename == "<template>":
            code_line = frame.f_lineno
        generator = getattr(generator, "gi_yieldfrom", None)
    return template.get_corresponding_lineno(code_line) if code_line else None


def render(
    source: str,
    context: Mapping[str, Any],
    where: Where,
    *,
    body: bool = False,
    script: ScriptLanguage | None = None,
    shown: str = "",
    limit: limits.Limits = limits.Limits(),  # noqa: B008 - frozen, shared safely
    keep_marks: bool = False,
) -> str:
    """Render ``source``. ``script``: check outside text for that script language (``shown``
    names it in messages). ``keep_marks``: return the marks of outside text (for ``env``
    values, which later templates may use)."""
    template = _compile(source, where, body=body)
    with limits.budget_for(limit) as budget:
        pieces, placed = _collect(template, context, where, budget)
    text = "".join(plain(piece) for piece in pieces)
    if script is not None:
        refusal = guard.check(text, placed, script, shown or script.value)
        if refusal is not None:
            raise _error(where, refusal.line, refusal.message, refused=True)
    if keep_marks and placed:
        return Text(text, tuple(item.part for item in placed))
    return text


def _collect(
    template: jinja2.Template,
    context: Mapping[str, Any],
    where: Where,
    budget: limits.Budget,
) -> tuple[list[str], list[guard.Placed]]:
    """Render piece by piece, checking the limits between pieces: the pieces, and where each
    marked part of them landed (with the template line that wrote it)."""
    pieces: list[str] = []
    placed: list[guard.Placed] = []
    offset = 0
    stream: Generator[str, None, None] = template.generate(context)  # type: ignore[assignment]
    try:
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                break
            except Exception as exc:  # any failure inside a template is the writer's to fix
                raise _render_failure(where, exc) from None
            piece = chunk if isinstance(chunk, str) else str(chunk)
            try:
                budget.tick()
                budget.text_length(offset + len(piece))
            except limits.LimitExceeded as exc:
                # Found between pieces: the line is the one that wrote the last piece.
                line = _current_line(stream, template)
                raise _error(where, line, str(exc), refused=True) from None
            if isinstance(piece, Text):
                line = _current_line(stream, template)
                placed.extend(guard.Placed(p.moved(offset), line) for p in piece.parts)
            pieces.append(piece)
            offset += len(piece)
    finally:
        stream.close()
    return pieces, placed


def evaluate(
    expression: str,
    context: Mapping[str, Any],
    where: Where,
    *,
    limit: limits.Limits = limits.Limits(),  # noqa: B008 - frozen, shared safely
) -> Any:
    """Evaluate a Jinja expression (an ``if`` condition)."""
    try:
        compiled = _compiled_expression(expression)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, None, f"expression syntax error: {exc.message}") from None
    with limits.budget_for(limit):
        try:
            return compiled(**context)
        except Exception as exc:  # any failure inside an expression is the writer's to fix
            raise _render_failure(where, exc, lines=False) from None


def check_syntax(source: str, where: Where, *, body: bool = False) -> None:
    """Raise ``TemplateError`` when ``source`` is not a valid template."""
    try:
        _environment(body).parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, exc.lineno, f"template syntax error: {exc.message}") from None


def check_expression(expression: str, where: Where) -> None:
    try:
        TEXT_ENV.compile_expression(expression)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, None, f"expression syntax error: {exc.message}") from None
