"""Who watches a run as it goes: the command line's live display, a worker's lease, or nobody."""

from __future__ import annotations

from typing import Protocol

from orchestrator.model import Step
from orchestrator.record import StepRecord


class Observer(Protocol):
    """Who watches a run: the CLI's live display, or nobody."""

    @property
    def verbose(self) -> bool: ...

    def step_changed(self, step: StepRecord) -> None: ...

    def step_output(self, step: str, line: str) -> None: ...

    def confirm(self, step: Step, instruction: str) -> bool | None:
        """Ask a person to confirm a manual step; None when nobody can be asked."""
        ...


class SilentObserver:
    verbose = False

    def step_changed(self, step: StepRecord) -> None:
        pass

    def step_output(self, step: str, line: str) -> None:
        pass

    def confirm(self, step: Step, instruction: str) -> bool | None:
        return None
