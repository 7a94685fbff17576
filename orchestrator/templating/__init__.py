"""Templates: sandboxed, strict Jinja2 for step bodies, ``env`` values, ``if`` conditions and
artifact fields.

The environment is sandboxed (no attribute walking into Python internals), undefined names
are errors, the final newline is kept, and in step bodies Jinja comments are off because
``{#`` is ordinary shell (``${#ARR[@]}``). Jinja is imported only when a text holds template
syntax: most step bodies hold none, and importing and compiling are not free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.templating.where import Placeholder, Where

_BODY_MARKERS = ("{{", "{%")
_TEXT_MARKERS = ("{{", "{%", "{#")


def _plain(source: str, *, body: bool) -> bool:
    return not any(marker in source for marker in (_BODY_MARKERS if body else _TEXT_MARKERS))


def render(source: str, context: Mapping[str, Any], where: Where, *, body: bool = False) -> str:
    """Render ``source``; ``body=True`` for step bodies (Jinja comments off)."""
    if _plain(source, body=body):
        return source
    from orchestrator.templating import engine

    return engine.render(source, context, where, body=body)


def evaluate(expression: str, context: Mapping[str, Any], where: Where) -> Any:
    """Evaluate a Jinja expression (an ``if`` condition)."""
    from orchestrator.templating import engine

    return engine.evaluate(expression, context, where)


def check_syntax(source: str, where: Where, *, body: bool = False) -> None:
    """Raise ``TemplateError`` when ``source`` is not a valid template."""
    if _plain(source, body=body):
        return
    from orchestrator.templating import engine

    engine.check_syntax(source, where, body=body)


def check_expression(expression: str, where: Where) -> None:
    """Raise ``TemplateError`` when ``expression`` is not a valid Jinja expression."""
    from orchestrator.templating import engine

    engine.check_expression(expression, where)


def raw_input_references(source: str, *, body: bool = True) -> list[tuple[str, int]]:
    """``(input name, template line)`` for each ``inputs.NAME`` used without the ``sh`` filter."""
    if _plain(source, body=body):
        return []
    from orchestrator.templating import engine

    return engine.raw_input_references(source, body=body)


__all__ = [
    "Placeholder",
    "Where",
    "check_expression",
    "check_syntax",
    "evaluate",
    "raw_input_references",
    "render",
]
