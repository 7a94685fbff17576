"""What one run of a document needs (``Execution``), and who watches it (``Observer``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator import templating
from orchestrator.model import Document, Step
from orchestrator.process import Masker
from orchestrator.record import StepRecord
from orchestrator.runner.output import DEFAULT_LOG_CAP_BYTES
from orchestrator.runner.steering import Steering


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


@dataclass(frozen=True)
class Execution:
    """Everything one run of a document needs."""

    document: Document
    inputs: Mapping[str, Any]
    environment: Mapping[str, str]
    workdir: Path
    run_folder: Path
    masker: Masker
    run_info: Mapping[str, Any]
    workflow_info: Mapping[str, Any]
    actor: str
    confirmed: frozenset[str] = frozenset()
    log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES
    # Hears (step name, pid) as each step's process starts, for crash recovery.
    on_process_start: Callable[[str, int], None] | None = None
    render_limits: templating.Limits = field(default_factory=templating.Limits)
    # Answers from people (a cancel; at a manual step, a confirmation): see runner.steering.
    steering: Steering | None = None
    # An unattended run: a manual step nobody confirmed in advance waits for a person.
    waits_for_people: bool = False
    # Steps a resumed run does not run: their records, copied from the run it resumes.
    taken_over: Mapping[str, StepRecord] = field(default_factory=dict)

    def where(self, line: int, what: str) -> templating.Where:
        return templating.Where(str(self.document.path), line, what)


def log_name(index: int, step: Step) -> str:
    return f"logs/{index + 1:02d}-{step.name}.log"
