"""Where a template came from, and the stand-in for values that exist only at run time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """Where a template came from: file, line of its first line, and what it is."""

    path: str
    line: int
    what: str = "template"


class Placeholder:
    """Stands for a value that exists only at run time (``orch plan`` shows it as such)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Placeholder:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return Placeholder(f"{self._name}.{attr}")

    def __getitem__(self, key: object) -> Placeholder:
        return Placeholder(f"{self._name}.{key}")

    def __str__(self) -> str:
        return f"<{self._name}>"

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Placeholder) and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)


def placeholder_name(value: Placeholder) -> str:
    """The name a placeholder stands for (not an attribute: ``steps.x.outputs.name`` is
    a placeholder too)."""
    return value._name
