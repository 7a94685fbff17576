"""Jinja2, sandboxed and strict: the only module that imports jinja2.

Imported by the package only when a text holds template syntax.

Step bodies, ``env`` values, ``if`` conditions and artifact fields are all rendered here. The
environment is sandboxed (no attribute walking into Python internals), undefined names are
errors, the final newline is kept, and in step bodies Jinja comments are off because ``{#`` is
ordinary shell (``${#ARR[@]}``).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.errors import Diagnostic, TemplateError
from orchestrator.templating.where import Where

# A comment opener no document can contain: Jinja has no switch to turn comments off.
_NO_COMMENTS = "\x00{#\x00"


def _shell_quote(value: object) -> str:
    return shlex.quote(str(value))


def _environment(*, comments: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        comment_start_string="{#" if comments else _NO_COMMENTS,
        comment_end_string="#}" if comments else _NO_COMMENTS[::-1],
    )
    env.filters["sh"] = _shell_quote
    return env


_BODY_ENV = _environment(comments=False)
_TEXT_ENV = _environment(comments=True)


def _error(where: Where, lineno: int | None, message: str) -> TemplateError:
    line = where.line + (lineno - 1 if lineno else 0)
    return TemplateError(
        Diagnostic(where.path, line, 1, f"{where.what}: {message}", code="template")
    )


def _compile(source: str, where: Where, *, body: bool) -> jinja2.Template:
    env = _BODY_ENV if body else _TEXT_ENV
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, exc.lineno, f"template syntax error: {exc.message}") from None


def _render_failure(where: Where, exc: Exception) -> TemplateError:
    lineno = _failing_line(exc)
    if isinstance(exc, SecurityError):
        return _error(where, lineno, f"refused by the template sandbox: {exc}")
    if isinstance(exc, jinja2.UndefinedError):
        return _error(where, lineno, f"{exc.message}")
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


def render(source: str, context: Mapping[str, Any], where: Where, *, body: bool = False) -> str:
    """Render ``source``; ``body=True`` for step bodies (Jinja comments off)."""
    template = _compile(source, where, body=body)
    try:
        return template.render(context)
    except Exception as exc:  # any failure inside a template is the writer's to fix
        raise _render_failure(where, exc) from None


def evaluate(expression: str, context: Mapping[str, Any], where: Where) -> Any:
    """Evaluate a Jinja expression (an ``if`` condition)."""
    try:
        compiled = _TEXT_ENV.compile_expression(expression, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, None, f"expression syntax error: {exc.message}") from None
    try:
        return compiled(**context)
    except Exception as exc:  # any failure inside an expression is the writer's to fix
        raise _render_failure(where, exc) from None


def check_syntax(source: str, where: Where, *, body: bool = False) -> None:
    """Raise ``TemplateError`` when ``source`` is not a valid template."""
    env = _BODY_ENV if body else _TEXT_ENV
    try:
        env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, exc.lineno, f"template syntax error: {exc.message}") from None


def check_expression(expression: str, where: Where) -> None:
    try:
        _TEXT_ENV.compile_expression(expression)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(where, None, f"expression syntax error: {exc.message}") from None


def raw_input_references(source: str, *, body: bool = True) -> list[tuple[str, int]]:
    """``(input name, template line)`` for each ``inputs.NAME`` used without the ``sh`` filter.

    Used to enforce the injection rule: a free-form string pasted raw into a script is a hole.
    The source must already be known to parse.
    """
    env = _BODY_ENV if body else _TEXT_ENV
    tree = env.parse(source)
    return sorted(set(_walk_raw_inputs(tree, quoted=False)), key=lambda item: item[1])


def _walk_raw_inputs(node: nodes.Node, *, quoted: bool) -> Iterator[tuple[str, int]]:
    if isinstance(node, nodes.Filter) and node.name == "sh":
        quoted = True
    name = _input_name(node)
    if name is not None:
        if not quoted:
            yield name, node.lineno
        return
    for child in node.iter_child_nodes():
        yield from _walk_raw_inputs(child, quoted=quoted)


def _input_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr) and _is_inputs(node.node):
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and _is_inputs(node.node)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None


def _is_inputs(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "inputs"
