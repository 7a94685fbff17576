"""What one run of a document needs (``Execution``); who watches it is ``observer``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import templating
from orchestrator.masking import Masker
from orchestrator.model import Document, Step
from orchestrator.record import StepRecord
from orchestrator.runner.observer import Observer as Observer  # named here as ever
from orchestrator.runner.observer import SilentObserver as SilentObserver
from orchestrator.runner.output import DEFAULT_LOG_CAP_BYTES
from orchestrator.runner.steering import Steering


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
