"""What one attempt of a step produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.record import FileWrite


@dataclass(frozen=True)
class Outcome:
    ok: bool
    log: str
    exit_code: int | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    file: FileWrite | None = None
    error: str | None = None
