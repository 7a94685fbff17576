"""orch's Jinja2 sandbox: marks kept through every operation, limits checked before each.

On top of Jinja's immutable sandbox (no attribute walking into Python internals, no changing
lists or dicts):

- every value written by ``{{ }}`` goes through ``finalize``, which writes booleans as
  ``true``/``false``, null as nothing, lists and mappings as compact JSON, and keeps the
  marks of outside text (``marks``);
- ``~``, captured blocks (``{% set %}``, macros, ``{% filter %}``) and ``join`` keep the
  marks of each piece; every filter, method call and operator on marked values gives
  marked results;
- every loop step, call, filter and operator checks the render's deadline, and the ones that
  can build large values are refused before they do (``limits``).
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from orchestrator.templating import limits
from orchestrator.templating.literals import python_literal
from orchestrator.templating.marks import (
    compose,
    first_origin,
    plain,
    quoted,
    taint_value,
    value_text,
)
from orchestrator.templating.where import Placeholder, placeholder_name

# Names no template can write (they hold a space): the sandbox's own filters.
LOOP_FILTER = "orch loop"
CONCAT_FILTER = "orch concat"
# A comment opener no document can contain: Jinja has no switch to turn comments off.
_NO_COMMENTS = "\x00{#\x00"
# Filters that take a value apart or count it without writing it as text.
_STRUCTURAL = frozenset(
    {
        "abs",
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "groupby",
        "int",
        "items",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "random",
        "reject",
        "rejectattr",
        "round",
        "select",
        "selectattr",
        "slice",
        "sort",
        "unique",
        "wordcount",
    }
)


class Refused(Exception):
    """A filter refused a value (turned into a ``TemplateError`` with the line)."""


def _finalize(value: Any) -> str:
    budget = limits.active()
    if budget is not None:
        budget.text_of(value)
    return value_text(value)


def _shell_quote(value: Any) -> str:
    text = plain(value_text(value))
    if "\x00" in text:
        raise Refused("the sh filter got a value with a NUL character, which no script can hold")
    _check_encodable(text, "sh")
    return _mark_quoted(value, shlex.quote(text), "sh")


def _python_quote(value: Any) -> str:
    try:
        literal = python_literal(value)
    except TypeError as exc:
        raise Refused(f"the py filter got {exc}") from None
    return _mark_quoted(value, literal, "python")


def _mark_quoted(value: Any, text: str, language: str) -> str:
    if isinstance(value, Placeholder):
        return quoted(text, language, placeholder_name(value))
    origin = first_origin(value)
    return quoted(text, language, origin) if origin is not None else text


def _check_encodable(text: str, name: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(
            f"the {name} filter got a value that cannot be written as UTF-8 "
            "(a lone surrogate character)"
        ) from None


def _concat(items: list[Any]) -> str:
    budget = limits.active()
    if budget is not None:
        budget.tick()
        for item in items:
            budget.text_of(item)
        budget.text_length(sum(len(value_text(item)) for item in items))
    return compose(items)


def _compose_buffer(pieces: Iterable[str]) -> str:
    pieces = list(pieces)
    budget = limits.active()
    if budget is not None:
        budget.tick()
        budget.text_length(sum(len(piece) for piece in pieces))
    return compose(pieces)


def _loop(iterable: Any) -> Iterator[Any]:
    budget = limits.active()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.tick()
        yield item


@jinja2.pass_environment
def _join(
    environment: jinja2.Environment,
    value: Iterable[Any],
    separator: str = "",
    attribute: str | int | None = None,
) -> str:
    """Jinja's ``join``, keeping the marks of each item (``map('sh') | join(' ')``)."""
    items = list(value)
    if attribute is not None:
        getter = jinja2.filters.make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    return _concat(_interleave(separator, items))


def _interleave(separator: Any, items: Iterable[Any]) -> list[Any]:
    pieces: list[Any] = []
    for index, item in enumerate(items):
        if index:
            pieces.append(separator)
        pieces.append(item)
    return pieces


def _precheck_filter(budget: limits.Budget, name: str, args: tuple[Any, ...], kwargs: Any) -> None:
    value = args[0] if args else None
    if name not in _STRUCTURAL:
        budget.text_of(value)
    option = args[1] if len(args) > 1 else None
    if name in ("center", "truncate", "wordwrap"):
        budget.width(f"the {name} width", kwargs.get("width", kwargs.get("length", option)))
    elif name == "indent":
        width = kwargs.get("width", option)
        if isinstance(width, int) and isinstance(value, str):
            budget.width("the indent width", width)
            budget.text_length(len(value) + (value.count("\n") + 1) * max(width, 0))
    elif name in ("batch", "slice"):
        budget.width(f"the {name} count", kwargs.get("linecount", kwargs.get("slices", option)))
    elif name == "tojson":
        budget.width("the tojson indent", kwargs.get("indent", option))
    elif name == "format":
        budget.format_string(value, args[1:] or kwargs)
    elif name == "replace" and isinstance(value, str) and len(args) >= 3:
        budget.text_length(_replaced_length(value, args[1], args[2]))
    elif name == "sum":
        budget.text_length(budget.size_of(value))


def _replaced_length(text: str, old: Any, new: Any) -> int:
    old, new = str(old), str(new)
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * (len(new) - len(old))


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with the limits checked first and marks carried to its result. Marked as
    taking the context, which also keeps Jinja from running it while compiling."""
    passes = getattr(function, "jinja_pass_arg", None)
    kind = passes.name if passes is not None else None

    @jinja2.pass_context
    @functools.wraps(function)
    def guarded(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        budget = limits.active()
        if budget is not None:
            budget.tick()
            _precheck_filter(budget, name, args, kwargs)
        if kind == "context":
            result = function(context, *args, **kwargs)
        elif kind == "eval_context":
            result = function(context.eval_ctx, *args, **kwargs)
        elif kind == "environment":
            result = function(context.environment, *args, **kwargs)
        else:
            result = function(*args, **kwargs)
        result = taint_value(result, (args, kwargs))
        if budget is not None and isinstance(result, (str, list, tuple)):
            budget.text_length(len(result))
        if budget is not None and isinstance(result, Iterator):
            result = budget.bounded(result)
        return result

    return guarded


class _Instrument(NodeTransformer):
    """Loops pass through ``LOOP_FILTER`` (a deadline check per step); ``~`` becomes
    ``CONCAT_FILTER`` (marks kept, size checked)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, CONCAT_FILTER, [], [], None, None, lineno=node.lineno)


def instrument(tree: nodes.Template, environment: jinja2.Environment) -> nodes.Template:
    result = _Instrument().visit(tree)
    assert isinstance(result, nodes.Template)
    result.set_environment(environment)
    return result


class OrchSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%", "/", "//", "-"})

    def __init__(self, *, comments: bool) -> None:
        super().__init__(
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            optimized=False,
            finalize=_finalize,
            comment_start_string="{#" if comments else _NO_COMMENTS,
            comment_end_string="#}" if comments else _NO_COMMENTS[::-1],
        )
        self.concat = _compose_buffer  # type: ignore[method-assign]
        self.globals.pop("lipsum", None)
        filters = {**self.filters, "join": _join, "sh": _shell_quote, "py": _python_quote}
        self.filters = {name: _guarded(name, function) for name, function in filters.items()}
        self.filters[LOOP_FILTER] = _loop
        self.filters[CONCAT_FILTER] = _concat

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = limits.active()
        if budget is not None:
            budget.tick()
            if operator == "*":
                budget.multiply(left, right)
            elif operator == "**":
                budget.power(left, right)
            elif operator == "+":
                budget.add(left, right)
            elif operator == "%":
                budget.format_string(left, right)
                budget.text_of(right)
        result = self.binop_table[operator](left, right)
        result = taint_value(result, (left, right))
        if budget is not None and isinstance(result, (str, list, tuple)):
            budget.text_length(len(result))
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        # ``'...'[n]`` with ``n`` computed from outside text: what it picks is marked.
        return taint_value(super().getitem(obj, argument), argument)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = limits.active()
        owner = getattr(obj, "__self__", None)
        if budget is not None:
            budget.tick()
            if isinstance(owner, str):
                _precheck_method(budget, owner, getattr(obj, "__name__", ""), args)
        if isinstance(owner, str) and getattr(obj, "__name__", "") == "join" and len(args) == 1:
            # ' '.join(values | map('sh')): each quoted value keeps its place.
            return _concat(_interleave(owner, args[0]))
        result = super().call(context, obj, *args, **kwargs)
        if not isinstance(obj, (Macro, LoopContext)):
            # A macro's output keeps its own marks; anything else made from marked values
            # is marked.
            result = taint_value(result, (owner, args, kwargs))
        if budget is not None and isinstance(result, (str, list, tuple)):
            budget.text_length(len(result))
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            budget = limits.active()
            if budget is not None:
                budget.format_string(template, args or tuple(kwargs.values()))
                for item in (*args, *kwargs.values()):
                    budget.text_of(item)
            result = wrapped(*args, **kwargs)
            return taint_value(plain(result), (template, args, kwargs))  # type: ignore[no-any-return]

        return checked


def _precheck_method(budget: limits.Budget, owner: str, name: str, args: tuple[Any, ...]) -> None:
    option = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill"):
        budget.width(f"the {name} width", option)
    elif name == "expandtabs" and isinstance(option, int):
        budget.text_length(len(owner) + owner.count("\t") * max(option, 0))
    elif name == "join" and args:
        items = args[0]
        count = len(items) if hasattr(items, "__len__") else 0
        budget.text_length(budget.size_of(items) + len(owner) * count)
    elif name == "replace" and len(args) >= 2:
        budget.text_length(_replaced_length(owner, args[0], args[1]))


BODY_ENV = OrchSandbox(comments=False)
TEXT_ENV = OrchSandbox(comments=True)
