"""The early, friendly form of the injection rule: read a template without rendering it.

``orch validate`` reports ``{{ inputs.name }}`` written into a script without the quoting
filter of its language, and a quoting filter of another language, before any value exists.
It sees only the plain forms; the guarantee is the check of the rendered body (``guard``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from jinja2 import nodes
from jinja2.parser import Parser

from orchestrator.templating.sandbox import BODY_ENV, TEXT_ENV
from orchestrator.templating.status import STATUS_FUNCTIONS

QUOTING_FILTERS = ("sh", "py")
_N = TypeVar("_N", bound=nodes.Node)


def raw_input_references(source: str, *, body: bool = True) -> list[tuple[str, int]]:
    """``(input name, template line)`` for each ``inputs.NAME`` used without a quoting filter
    (whether that filter fits the step is ``quoting_filter_uses``'s to say). The source must
    parse."""
    tree = (BODY_ENV if body else TEXT_ENV).parse(source)
    found = set(_walk_raw_inputs(tree, quoted=False))
    return sorted(found, key=lambda item: (item[1], item[0]))


def quoting_filter_uses(source: str, *, body: bool = True) -> list[tuple[str, int]]:
    """``(filter, template line)`` for each use of a quoting filter (``sh``, ``py``)."""
    tree = (BODY_ENV if body else TEXT_ENV).parse(source)
    uses = {
        (node.name, node.lineno)
        for node in tree.find_all(nodes.Filter)
        if node.name in QUOTING_FILTERS
    }
    return sorted(uses, key=lambda item: (item[1], item[0]))


def _walk_raw_inputs(node: nodes.Node, *, quoted: bool) -> Iterator[tuple[str, int]]:
    if isinstance(node, nodes.Filter) and node.name in QUOTING_FILTERS:
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


# --- status functions: always(), success(), failure(), cancelled() ---------------------------


def _expression_tree(expression: str) -> nodes.Expr:
    parser = Parser(TEXT_ENV, expression, state="variable")
    return parser.parse_expression()


def status_functions_called(expression: str) -> frozenset[str]:
    """The status functions an ``if`` expression calls. The expression must parse."""
    return frozenset(name for name, _ in _status_calls(_expression_tree(expression)))


def status_function_misuse(expression: str) -> list[str]:
    """What is wrong with the status functions of an ``if`` expression: one called with
    arguments, or named without being called (a function is true, so ``if="failure"`` would
    always hold). The expression must parse."""
    tree = _expression_tree(expression)
    problems = []
    called: set[int] = set()
    for name, call in _status_calls(tree):
        called.add(id(call.node))
        if call.args or call.kwargs or call.dyn_args or call.dyn_kwargs:
            problems.append(f"{name}() takes no arguments: write {name}()")
    for node in _including(tree, nodes.Name):
        if node.name in STATUS_FUNCTIONS and id(node) not in called:
            problems.append(
                f"{node.name} is a status function: call it, {node.name}() "
                "(without the parentheses the condition would always be true)"
            )
    return problems


def _including(tree: nodes.Node, kind: type[_N]) -> Iterator[_N]:
    """``tree`` itself when it is a ``kind``, then every ``kind`` below it."""
    if isinstance(tree, kind):
        yield tree
    yield from tree.find_all(kind)


def _status_calls(tree: nodes.Node) -> Iterator[tuple[str, nodes.Call]]:
    for call in _including(tree, nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in STATUS_FUNCTIONS:
            yield call.node.name, call


def required_failures(expression: str) -> list[str]:
    """The steps an ``if`` expression requires to have failed: ``steps.NAME.state ==
    'failed'`` as the whole expression or as one of the terms it joins with ``and``. The
    expression must parse."""
    found: list[str] = []
    pending: list[nodes.Node] = [_expression_tree(expression)]
    while pending:
        node = pending.pop()
        if isinstance(node, nodes.And):
            pending += [node.right, node.left]
        elif isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op == "eq":
            sides = (node.expr, node.ops[0].expr)
            if any(isinstance(side, nodes.Const) and side.value == "failed" for side in sides):
                found.extend(name for side in sides if (name := _step_state_of(side)))
    return found


def _step_state_of(node: nodes.Node) -> str | None:
    """NAME for ``steps.NAME.state`` (or ``steps['NAME'].state``, ``steps.NAME['state']``)."""
    if not isinstance(node, nodes.Getattr | nodes.Getitem) or _key(node) != "state":
        return None
    step = node.node
    if not isinstance(step, nodes.Getattr | nodes.Getitem):
        return None
    name = _key(step)
    if name is None or not (isinstance(step.node, nodes.Name) and step.node.name == "steps"):
        return None
    return name


def _key(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None
