"""Bounds on rendering: time, size of text, size of numbers.

A template is a program: ``{% for %}`` inside ``{% for %}``, ``9 ** 9 ** 9``, or
``'x' | center(10 ** 9)`` would hang or fill memory. Each render gets a deadline and a size
limit; the template sandbox asks here before every operation that can be slow or large
(loops, calls, filters, ``*``, ``**``, ``+``, ``%``, joins) and refuses the ones that would
go beyond the limits *before* doing them where the size can be known in advance.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SECONDS = 5.0
DEFAULT_MAX_CHARS = 4 * 1024 * 1024
# Python's own limit for turning an integer into text (sys.get_int_max_str_digits()).
MAX_DIGITS = 4300
_MAX_BITS = int(MAX_DIGITS * math.log2(10))
_NUMBER_IN_FORMAT = re.compile(r"\d+")


@dataclass(frozen=True)
class Limits:
    """How long one template may take to render, and how long its text may be."""

    seconds: float = DEFAULT_SECONDS
    max_chars: int = DEFAULT_MAX_CHARS


class LimitExceeded(Exception):
    """A render went beyond a limit (turned into a ``TemplateError`` with the line)."""


@dataclass
class Budget:
    """The limits of the render under way, and what it used so far."""

    limits: Limits
    deadline: float = 0.0
    # id -> (object, size): sizes of containers already measured (kept alive so that an id
    # is never reused while this render runs).
    _sizes: dict[int, tuple[Any, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.limits.seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"rendering took longer than {self.limits.seconds:g}s, the limit "
                "(setting render-seconds)"
            )

    def text_length(self, length: int) -> None:
        if length > self.limits.max_chars:
            raise LimitExceeded(
                f"the template would build a text of {length:,} characters, more than the "
                f"limit of {self.limits.max_chars:,} (setting render-max-chars)"
            )

    def width(self, what: str, width: Any) -> None:
        if _is_int(width) and abs(width) > self.limits.max_chars:
            raise LimitExceeded(
                f"{what} {width:,} is more than the text limit of "
                f"{self.limits.max_chars:,} characters (setting render-max-chars)"
            )

    def format_string(self, template: Any, args: Any) -> None:
        """Refuse ``%`` and ``format`` widths that would build a huge text."""
        if not isinstance(template, str):
            return
        for number in _NUMBER_IN_FORMAT.findall(template):
            if len(number) > 12 or int(number) > self.limits.max_chars:
                raise LimitExceeded(
                    f"the format width {number} is more than the text limit of "
                    f"{self.limits.max_chars:,} characters (setting render-max-chars)"
                )
        values: Any = args if isinstance(args, (tuple, list)) else (args,)
        if len(values) == 1 and isinstance(values[0], Mapping):
            values = list(values[0].values())
        if "*" in template:
            for value in values:
                self.width("the format width", value)
        # Each field may repeat the largest value: '{0}{0}{0}'.format(big).
        fields = template.count("{") + template.count("%")
        largest = max((self.size_of(value) for value in values), default=0)
        self.text_length(len(template) + fields * largest)

    def size_of(self, value: Any) -> int:
        """About how many characters ``value`` takes as text (stops counting past the
        limit: a list holding one huge string a million times is not walked through)."""
        return _size(value, self.limits.max_chars + 1, self._sizes, 0)

    def text_of(self, value: Any) -> None:
        """Refuse to turn ``value`` into text when that text would be over the limit."""
        if not isinstance(value, (str, int, float, type(None))):
            self.text_length(self.size_of(value))

    def bounded(self, items: Iterator[Any]) -> Iterator[Any]:
        """``items``, stopping the render once what they gave adds up to more than the text
        limit (``list(big | map('center', n))`` would hold all of it at once)."""
        total = 0
        for item in items:
            self.tick()
            total += self.size_of(item)
            self.text_length(total)
            yield item

    def multiply(self, left: Any, right: Any) -> None:
        if _is_int(left) and _is_int(right):
            bits = abs(left).bit_length() + abs(right).bit_length()
            self._bits(f"{_number(left)} * {_number(right)}", bits)
            return
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, (str, list, tuple)) and _is_int(count):
                self.text_length(len(sequence) * max(count, 0))

    def power(self, base: Any, exponent: Any) -> None:
        if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
            bits = exponent * math.log2(abs(base))
            self._bits(f"{_number(base)} ** {_number(exponent)}", bits)

    def add(self, left: Any, right: Any) -> None:
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            self.text_length(len(left) + len(right))

    def _bits(self, expression: str, bits: float) -> None:
        if bits > _MAX_BITS:
            digits = int(bits / math.log2(10)) + 1
            raise LimitExceeded(
                f"{expression} would have about {digits:,} digits; orch computes numbers of "
                f"up to {MAX_DIGITS} digits"
            )


def _number(value: int) -> str:
    """``value`` as written, or its size when it is too long to show."""
    if abs(value).bit_length() <= 64:
        return str(value)
    return f"(a number of about {int(abs(value).bit_length() / math.log2(10)) + 1:,} digits)"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(value: Any, budget: int, seen: dict[int, tuple[Any, int]], depth: int) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (int, float, bool, type(None))):
        return 8
    if not isinstance(value, (list, tuple, set, frozenset, Mapping)) or depth > 64:
        return 8
    known = seen.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    total = 2
    items = (
        [item for pair in value.items() for item in pair] if isinstance(value, Mapping) else value
    )
    for item in items:
        total += _size(item, budget - total, seen, depth + 1) + 1
        if total > budget:
            break
    seen[id(value)] = (value, total)
    return total


_ACTIVE: ContextVar[Budget | None] = ContextVar("orch_render_budget", default=None)


def active() -> Budget | None:
    """The budget of the render under way in this thread (None outside a render)."""
    return _ACTIVE.get()


class budget_for:  # used as ``with budget_for(limits):``, like a function
    """Run a render under ``limits``."""

    def __init__(self, limits: Limits) -> None:
        self.budget = Budget(limits)

    def __enter__(self) -> Budget:
        self._token = _ACTIVE.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._token)
