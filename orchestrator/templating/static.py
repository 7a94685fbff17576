"""The early, friendly form of the injection rule: read a template without rendering it.

``orch validate`` reports ``{{ inputs.name }}`` written into a script without the quoting
filter of its language, and a quoting filter of another language, before any value exists.
It sees only the plain forms; the guarantee is the check of the rendered body (``guard``).
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from orchestrator.templating.sandbox import BODY_ENV, TEXT_ENV

QUOTING_FILTERS = ("sh", "py")


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
