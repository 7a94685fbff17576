"""Durations as intent documents write them (``30s``, ``10m``, ``1h30m``, ``500ms``, ``90``):
one parser for the validator and for the steps that wait (timeouts, retry delays, health
checks), so a duration means the same when it is checked and when it is waited for."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# The longest timeout, retry delay or health interval a document may ask for: longer waits
# are mistakes (and beyond what the system's timers take).
MAX_DURATION_SECONDS = 7 * 24 * 3600.0
MAX_DURATION_TEXT = "168h (7 days)"


def too_long(seconds: float) -> bool:
    """True for a duration over ``MAX_DURATION_SECONDS`` (or not a finite number)."""
    return not seconds <= MAX_DURATION_SECONDS


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``10m``, ``1h``, ``1h30m``, ``500ms`` or a plain number; units
    from the largest down, each once (``ValueError`` otherwise)."""
    text = text.strip()
    if _NUMBER.match(text):
        return float(text)
    seconds = 0.0
    position = 0
    order = list(_UNITS)
    last = -1
    for match in _PART.finditer(text):
        unit_rank = order.index(match.group(2))
        if match.start() != position or unit_rank <= last:
            raise ValueError(text)
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
        last = unit_rank
    if position == 0 or position != len(text):
        raise ValueError(text)
    return seconds
