"""Ctrl-C during a run: the step it was in ends ``failed`` ("interrupted", its attempt
counted), every later step ``skipped``, and the run carries why."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.model import StepState
from orchestrator.process import Interrupted
from orchestrator.record import RunError, RunRecord, StepRecord, utc_now

if TYPE_CHECKING:
    from orchestrator.runner.engine import Observer

INTERRUPTED = "interrupted"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run. ``record`` has the interrupted step ``failed`` and every later
    step ``skipped``; ``restore`` gives Ctrl-C back once the caller has recorded the run."""

    def __init__(self, record: RunRecord, step: str | None, restore: Callable[[], None]) -> None:
        super().__init__()
        self.record = record
        self.step = step
        self.restore = restore


class StepInterrupted(KeyboardInterrupt):
    """Ctrl-C arrived during a step; ``step`` is its final record."""

    def __init__(self, step: StepRecord) -> None:
        super().__init__()
        self.step = step


def cut_short(current: StepRecord, logs: list[str], exc: KeyboardInterrupt) -> StepRecord:
    """The step as Ctrl-C left it (its attempt counted); what it printed is added to ``logs``,
    which the caller writes before moving the step to ``failed`` at ``ended_at``."""
    printed = exc.output if isinstance(exc, Interrupted) else ""
    if printed and not printed.endswith("\n"):
        printed += "\n"
    logs.append(printed + "[orch: interrupted by Ctrl-C; the step's processes were stopped]\n")
    return dataclasses.replace(current, ended_at=utc_now(), error=INTERRUPTED)


def interrupted_run(
    record: RunRecord, index: int, interrupted: StepRecord | None, observer: Observer
) -> tuple[RunRecord, str | None]:
    """The run as Ctrl-C left it: the step it was in ``failed``, every later one ``skipped``."""
    at = record.steps[index]
    if interrupted is None and at.state in (StepState.PENDING, StepState.RUNNING):
        # Cut short before its process started (rendering, a retry's pause, a prompt).
        now = utc_now()
        interrupted = dataclasses.replace(
            at, started_at=at.started_at or now, ended_at=now, error=INTERRUPTED
        )
        if at.state is StepState.PENDING:
            interrupted = interrupted.moved_to(StepState.RUNNING, now)
        interrupted = interrupted.moved_to(StepState.FAILED, now)
    if interrupted is not None:
        record = record.with_step(interrupted)
        observer.step_changed(interrupted)
        reason = f"the run was interrupted during step '{interrupted.name}'"
    else:
        reason = f"the run was interrupted after step '{at.name}'"
    for later in record.steps[index + 1 :]:
        if later.state is StepState.PENDING:
            skipped = dataclasses.replace(later, skipped_because=reason).moved_to(StepState.SKIPPED)
            record = record.with_step(skipped)
            observer.step_changed(skipped)
    name = interrupted.name if interrupted is not None else None
    message = (
        f"interrupted by the operator during step '{name}'"
        if name is not None
        else f"interrupted by the operator after step '{at.name}'"
    )
    return dataclasses.replace(record, error=RunError(step=name, message=message)), name
