"""Templates: sandboxed, strict Jinja2 for step bodies, ``env`` values, ``if`` conditions and
artifact fields.

The environment is sandboxed (no attribute walking into Python internals), undefined names
are errors, the final newline is kept, and in step bodies Jinja comments are off because
``{#`` is ordinary shell (``${#ARR[@]}``). Every render is bounded in time and size, and a
script step's body is checked so that no value from outside the document can change its
syntax (see ``guard``). Jinja is imported only when a text holds template syntax: most step
bodies hold none, and importing and compiling are not free.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.templating.language import SHELL_SAFE_CHARACTERS, ScriptLanguage
from orchestrator.templating.limits import DEFAULT_MAX_CHARS, DEFAULT_SECONDS, Limits
from orchestrator.templating.marks import outside, plain, retag, value_text
from orchestrator.templating.status import STATUS_FUNCTIONS, mentions_status
from orchestrator.templating.where import Placeholder, Where

if TYPE_CHECKING:
    from orchestrator.templating.uses import Uses

_BODY_MARKERS = ("{{", "{%")
_TEXT_MARKERS = ("{{", "{%", "{#")
_DEFAULT_LIMITS = Limits()


def _plain(source: str, *, body: bool) -> bool:
    return not any(marker in source for marker in (_BODY_MARKERS if body else _TEXT_MARKERS))


def render(
    source: str,
    context: Mapping[str, Any],
    where: Where,
    *,
    body: bool = False,
    script: ScriptLanguage | None = None,
    shown: str = "",
    limits: Limits = _DEFAULT_LIMITS,
    keep_marks: bool = False,
) -> str:
    """Render ``source``; ``body=True`` for step bodies (Jinja comments off).

    ``script``: the body is a script in that language; outside values that could change its
    syntax are refused (``TemplateError`` naming the line; ``shown`` is the language as the
    document wrote it). ``keep_marks``: the result remembers which parts came from outside
    (for ``env`` values, which later templates use)."""
    if _plain(source, body=body):
        return source
    from orchestrator.templating import engine

    return engine.render(
        source,
        context,
        where,
        body=body,
        script=script,
        shown=shown,
        limit=limits,
        keep_marks=keep_marks,
    )


def evaluate(
    expression: str, context: Mapping[str, Any], where: Where, *, limits: Limits = _DEFAULT_LIMITS
) -> Any:
    """Evaluate a Jinja expression (an ``if`` condition)."""
    from orchestrator.templating import engine

    return engine.evaluate(expression, context, where, limit=limits)


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
    """``(input name, template line)`` for each ``inputs.NAME`` used without a quoting filter
    (``sh`` or ``py``)."""
    if _plain(source, body=body):
        return []
    from orchestrator.templating import static

    return static.raw_input_references(source, body=body)


def quoting_filter_uses(source: str, *, body: bool = True) -> list[tuple[str, int]]:
    """``(filter, template line)`` for each use of the ``sh`` or ``py`` filter."""
    if _plain(source, body=body):
        return []
    from orchestrator.templating import static

    return static.quoting_filter_uses(source, body=body)


@functools.lru_cache(maxsize=4096)
def template_uses(source: str, *, body: bool) -> Uses:
    """The names (with their attribute chains), filters, tests and loads a valid template
    takes from outside itself (see ``uses``)."""
    # Imported here, as ``names`` and ``static`` are: checking a document needs them, a run
    # of a document read before does not.
    from orchestrator.templating.uses import NotSimple, Uses, simple_template_uses

    if _plain(source, body=body):
        return Uses()
    try:
        return simple_template_uses(source, body=body)
    except NotSimple:
        from orchestrator.templating import names

        return names.template_uses(source, body=body)


@functools.lru_cache(maxsize=4096)
def expression_uses(expression: str) -> Uses:
    """``template_uses`` for a valid expression (an ``if`` condition)."""
    from orchestrator.templating.uses import NotSimple, simple_expression_uses

    try:
        return simple_expression_uses(expression)
    except NotSimple:
        from orchestrator.templating import names

        return names.expression_uses(expression)


def is_filter(name: str) -> bool:
    """Whether templates have a filter ``name`` (Jinja's and orch's ``sh`` and ``py``)."""
    from orchestrator.templating.uses import COMMON_FILTERS

    if name in COMMON_FILTERS:
        return True
    from orchestrator.templating import names

    return name in names.known_filters()


def filter_names() -> frozenset[str]:
    from orchestrator.templating import names

    return names.known_filters()


def test_names() -> frozenset[str]:
    from orchestrator.templating import names

    return names.known_tests()


def global_names() -> frozenset[str]:
    """Names every template has besides its context (``range``, ``namespace``, ...)."""
    from orchestrator.templating import names

    return names.known_globals()
def status_functions_called(expression: str) -> frozenset[str]:
    """The status functions (``always()``, ``success()``, ``failure()``, ``cancelled()``) an
    ``if`` expression calls; the expression must parse."""
    if not mentions_status(expression):
        return frozenset()
    return _status_functions_called(expression)


@functools.lru_cache(maxsize=1024)
def _status_functions_called(expression: str) -> frozenset[str]:
    from orchestrator.templating import static

    return static.status_functions_called(expression)


def status_function_misuse(expression: str) -> list[str]:
    """Status functions in an ``if`` expression called with arguments or not called at all;
    the expression must parse."""
    if not mentions_status(expression):
        return []
    from orchestrator.templating import static

    return static.status_function_misuse(expression)


def required_failures(expression: str) -> list[str]:
    """The steps an ``if`` expression requires to have failed (``steps.NAME.state ==
    'failed'``, alone or joined with ``and``); the expression must parse."""
    if "failed" not in expression:
        return []
    from orchestrator.templating import static

    return static.required_failures(expression)


__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_SECONDS",
    "SHELL_SAFE_CHARACTERS",
    "STATUS_FUNCTIONS",
    "Limits",
    "Placeholder",
    "ScriptLanguage",
    "Where",
    "check_expression",
    "check_syntax",
    "evaluate",
    "expression_uses",
    "filter_names",
    "global_names",
    "is_filter",
    "outside",
    "plain",
    "quoting_filter_uses",
    "raw_input_references",
    "render",
    "required_failures",
    "retag",
    "status_function_misuse",
    "status_functions_called",
    "template_uses",
    "test_names",
    "value_text",
]
