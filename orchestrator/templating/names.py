"""The names a template takes from its context, read from Jinja's syntax tree.

A walk over the tree with the scopes Jinja gives names: ``{% set %}``, ``{% for %}`` (with
``loop``), macros (their arguments, ``caller``, ``varargs``, ``kwargs``), ``{% call %}``,
``{% with %}`` and imports bind names, and a name bound by the template is not taken from the
context. What remains is what the template needs from outside, with every constant attribute
chain (``steps.build.outputs.version``), the filters and tests it calls, and the templates
it would load. Imported only for texts that are not simple (``uses``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import jinja2
from jinja2 import nodes

from orchestrator.templating.sandbox import BODY_ENV, TEXT_ENV
from orchestrator.templating.uses import NameUse, Segment, Uses

# Names Jinja gives a template wherever it stands.
_ALWAYS_BOUND = frozenset({"self"})
# Filters and tests after which a missing value does not fail the render.
_GUARDING_FILTERS = frozenset({"default", "d"})
_GUARDING_TESTS = frozenset({"defined", "undefined"})


def known_filters() -> frozenset[str]:
    """Every filter a document's template may use: Jinja's and orch's."""
    return frozenset(name for name in BODY_ENV.filters if " " not in name)


def known_tests() -> frozenset[str]:
    return frozenset(BODY_ENV.tests)


def known_globals() -> frozenset[str]:
    """Names every template has besides its context (``range``, ``namespace``, ...)."""
    return frozenset(BODY_ENV.globals)


@functools.lru_cache(maxsize=4096)
def template_uses(source: str, *, body: bool) -> Uses:
    """What ``source`` uses from its context (nothing when it does not parse: its syntax
    error is reported on its own)."""
    try:
        tree = (BODY_ENV if body else TEXT_ENV).parse(source)
    except jinja2.TemplateSyntaxError:
        return Uses()
    walker = _Walker(_stored_names(tree))
    walker.statements(tree.body)
    return walker.result()


@functools.lru_cache(maxsize=4096)
def expression_uses(expression: str) -> Uses:
    """What ``expression`` (an ``if`` condition) uses; nothing when it does not parse."""
    try:
        parser = jinja2.parser.Parser(TEXT_ENV, expression, state="variable")
        tree = parser.parse_expression()
    except jinja2.TemplateSyntaxError:
        return Uses()
    walker = _Walker(frozenset())
    walker.expression(tree)
    return walker.result()


def _stored_names(tree: nodes.Node) -> frozenset[str]:
    """Every name the template binds somewhere: variables, macro names, imports."""
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    names.update(node.name for node in tree.find_all(nodes.Macro))
    names.update(node.target for node in tree.find_all(nodes.Import))
    return frozenset(names)


class _Walker:
    def __init__(self, stored: frozenset[str]) -> None:
        # Every name the template binds anywhere: a macro's body may run after any of them.
        self.stored = stored
        self.scopes: list[set[str]] = [set()]
        self.lenient = 0
        self.names: list[NameUse] = []
        self.filters: list[tuple[str, int]] = []
        self.tests: list[tuple[str, int]] = []
        self.loads: list[tuple[str, int]] = []
        # Chains an enclosing ``{% if X is defined %}`` (or its ``else`` for ``is undefined``)
        # has tested: uses of them inside cannot fail for a missing value.
        self.guarded: list[set[tuple[str, ...]]] = []

    def result(self) -> Uses:
        return Uses(
            names=tuple(self.names),
            filters=tuple(self.filters),
            tests=tuple(self.tests),
            loads=tuple(self.loads),
        )

    def bound(self, name: str) -> bool:
        if name in _ALWAYS_BOUND or any(name in scope for scope in self.scopes):
            return True
        return self.lenient > 0 and name in self.stored

    def bind(self, target: nodes.Node) -> None:
        for name in target.find_all(nodes.Name):
            self.scopes[-1].add(name.name)
        if isinstance(target, nodes.Name):
            self.scopes[-1].add(target.name)

    def nested(self, bound: Iterable[str], body: Iterable[nodes.Node], *, lenient: bool) -> None:
        self.scopes.append(set(bound))
        self.lenient += lenient
        self.statements(body)
        self.lenient -= lenient
        self.scopes.pop()

    # Statements

    def statements(self, body: Iterable[nodes.Node]) -> None:
        for node in body:
            self.statement(node)

    def statement(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Assign):
            self.expression(node.node)
            self.target(node.target)
        elif isinstance(node, nodes.AssignBlock):
            if node.filter is not None:
                self.expression(node.filter)
            self.nested((), node.body, lenient=False)
            self.target(node.target)
        elif isinstance(node, nodes.For):
            self.for_loop(node)
        elif isinstance(node, nodes.If):
            self.expression(node.test)
            defined, undefined = _tested_chains(node.test)
            self.guarded.append(defined)
            self.statements(node.body)
            self.guarded[-1] = undefined
            for branch in node.elif_:
                self.statement(branch)
            self.statements(node.else_)
            self.guarded.pop()
        elif isinstance(node, nodes.Macro):
            self.scopes[-1].add(node.name)
            self.macro(node.args, node.defaults, node.body)
        elif isinstance(node, nodes.CallBlock):
            self.expression(node.call)
            self.macro(node.args, node.defaults, node.body)
        elif isinstance(node, nodes.FilterBlock):
            self.expression(node.filter)
            self.nested((), node.body, lenient=False)
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expression(value)
            self.scopes.append(set())
            for target in node.targets:
                self.bind(target)
            self.statements(node.body)
            self.scopes.pop()
        elif isinstance(node, nodes.Block):
            self.nested((), node.body, lenient=True)
        elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            self.load(node)
        elif isinstance(node, nodes.Output):
            for part in node.nodes:
                if not isinstance(part, nodes.TemplateData):
                    self.expression(part)
        else:
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Stmt):
                    self.statement(child)
                else:
                    self.expression(child)

    def target(self, target: nodes.Node) -> None:
        if isinstance(target, nodes.NSRef):
            self.expression(nodes.Name(target.name, "load", lineno=target.lineno))
        else:
            self.bind(target)

    def for_loop(self, node: nodes.For) -> None:
        self.expression(node.iter)
        self.scopes.append(set())
        self.bind(node.target)
        self.scopes[-1].add("loop")
        if node.test is not None:
            self.expression(node.test)
        self.statements(node.body)
        self.scopes.pop()
        self.statements(node.else_)

    def macro(
        self, args: list[nodes.Name], defaults: list[nodes.Expr], body: list[nodes.Node]
    ) -> None:
        for default in defaults:
            self.expression(default)
        bound = {arg.name for arg in args} | {"caller", "varargs", "kwargs"}
        self.nested(bound, body, lenient=True)

    def load(self, node: nodes.Node) -> None:
        kind = type(node).__name__.lower().replace("fromimport", "import")
        self.loads.append((kind, node.lineno))
        if isinstance(node, nodes.Import):
            self.scopes[-1].add(node.target)
        elif isinstance(node, nodes.FromImport):
            for name in node.names:
                self.scopes[-1].add(name[1] if isinstance(name, tuple) else name)

    # Expressions

    def expression(self, node: nodes.Node, *, guarded: bool = False) -> None:
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            self.chain(node, guarded)
        elif isinstance(node, nodes.Filter):
            if node.node is not None:
                self.expression(node.node, guarded=node.name in _GUARDING_FILTERS)
            self.filters.append((node.name, node.lineno))
            self.arguments(node)
        elif isinstance(node, nodes.Test):
            self.expression(node.node, guarded=node.name in _GUARDING_TESTS)
            self.tests.append((node.name, node.lineno))
            self.arguments(node)
        else:
            for child in node.iter_child_nodes():
                self.expression(child)

    def arguments(self, node: nodes.Filter | nodes.Test) -> None:
        for argument in (*node.args, *(pair.value for pair in node.kwargs)):
            self.expression(argument)
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.expression(extra)

    def chain(self, node: nodes.Node, guarded: bool) -> None:
        """``a.b['c'].d``: the name ``a`` and its constant path; computed parts cut it."""
        path: list[Segment] = []
        dynamic = False
        line = node.lineno
        while True:
            if isinstance(node, nodes.Getattr):
                path.append(Segment(node.attr))
                node = node.node
            elif isinstance(node, nodes.Getitem) and _constant_key(node.arg) is not None:
                path.append(Segment(str(_constant_key(node.arg)), item=True))
                node = node.node
            elif isinstance(node, nodes.Getitem):
                self.expression(node.arg)
                path.clear()
                dynamic = True
                node = node.node
            else:
                break
        if not isinstance(node, nodes.Name):
            self.expression(node)
            return
        if node.ctx == "load" and not self.bound(node.name):
            segments = tuple(reversed(path))
            chain = (node.name, *(segment.name for segment in segments))
            tested = any(
                chain[:length] in outer
                for outer in self.guarded
                for length in range(2, len(chain) + 1)
            )
            self.names.append(
                NameUse(
                    node.name,
                    segments,
                    line,
                    guarded or tested,
                    dynamic,
                    set_later=node.name in self.stored,
                )
            )


def _constant_key(node: nodes.Node) -> str | int | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, (str, int)):
        if isinstance(node.value, bool):
            return None
        return node.value
    return None


def _tested_chains(test: nodes.Node) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """Chains ``test`` proves defined when it holds, and when it does not: ``a.b is defined``
    (and ``and`` of such), ``a.b is undefined``, ``a.b is not defined``."""
    if isinstance(test, nodes.And):
        left, right = _tested_chains(test.left), _tested_chains(test.right)
        return left[0] | right[0], set()
    if isinstance(test, nodes.Not):
        holds, fails = _tested_chains(test.node)
        return fails, holds
    if isinstance(test, nodes.Test) and test.name in _GUARDING_TESTS:
        chain = _constant_chain(test.node)
        if chain is None:
            return set(), set()
        return ({chain}, set()) if test.name == "defined" else (set(), {chain})
    return set(), set()


def _constant_chain(node: nodes.Node) -> tuple[str, ...] | None:
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and _constant_key(node.arg) is not None:
            parts.append(str(_constant_key(node.arg)))
            node = node.node
        elif isinstance(node, nodes.Name):
            return (node.name, *reversed(parts))
        else:
            return None
