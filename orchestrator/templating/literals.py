"""Python literals: what the ``py`` filter writes for a value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from orchestrator.templating.marks import plain
from orchestrator.templating.where import Placeholder


def python_literal(value: Any) -> str:
    """A Python expression that evaluates to ``value`` (strings, numbers, booleans, None,
    lists, tuples and mappings of those)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"float({repr(float(value))!r})"
        return repr(float(value))
    if isinstance(value, bytes):
        return repr(bytes(value))
    if isinstance(value, str):
        return repr(plain(value))
    if isinstance(value, Placeholder):
        return repr(str(value))
    if isinstance(value, (list, tuple)):
        inner = ", ".join(python_literal(item) for item in value)
        if isinstance(value, tuple):
            return f"({inner}{',' if len(value) == 1 else ''})"
        return f"[{inner}]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + pairs + "}"
    raise TypeError(f"a {type(value).__name__} value has no Python literal")
