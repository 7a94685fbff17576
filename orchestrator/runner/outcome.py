"""What one attempt of a step produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.record import Answer, FileWrite, Transition


@dataclass(frozen=True)
class Outcome:
    """How one attempt at a step ended: success, its log, exit code and outputs."""

    ok: bool
    log: str
    exit_code: int | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    file: FileWrite | None = None
    error: str | None = None
    # A person's answer to a waiting manual step, and the step's moves while it waited.
    answer: Answer | None = None
    transitions: tuple[Transition, ...] = ()
