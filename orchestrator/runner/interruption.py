"""Ctrl-C during a run: the step it was in ends ``failed`` ("interrupted", its attempt
counted), later steps are ``skipped`` except those whose ``if`` calls ``always()`` or
``cancelled()`` (they run, and a second Ctrl-C stops them too), and the run carries why."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Interruption:
    """Ctrl-C stopped the run: during ``step`` (None: between steps). ``reason`` is what the
    steps it holds back record; ``error`` the run's error."""

    step: str | None
    reason: str
    error: RunError


def interruption_at(
    record: RunRecord, index: int, exc: BaseException, observer: Observer
) -> tuple[RunRecord, Interruption]:
    """The run as the first Ctrl-C left it at step ``index``: that step ``failed``
    ("interrupted") unless it had ended already. Later steps are left to the caller: those
    whose ``if`` calls ``always()`` or ``cancelled()`` still run."""
    record, name, at = _cut_at(record, index, exc, observer)
    if name is not None:
        return record, Interruption(
            name,
            f"the run was interrupted during step '{name}'",
            RunError(step=name, message=f"interrupted by the operator during step '{name}'"),
        )
    return record, Interruption(
        None,
        f"the run was interrupted after step '{at}'",
        RunError(step=None, message=f"interrupted by the operator after step '{at}'"),
    )


def stopped_again(
    record: RunRecord,
    index: int,
    exc: BaseException,
    first: Interruption,
    observer: Observer,
) -> RunRecord:
    """A second Ctrl-C, while steps ran after the first one: the step it came in ``failed``
    ("interrupted"), every later step ``skipped``; the run keeps the first one's error."""
    record, name, at = _cut_at(record, index, exc, observer)
    reason = (
        f"a second Ctrl-C stopped the run during step '{name}'"
        if name is not None
        else f"a second Ctrl-C stopped the run after step '{at}'"
    )
    for later in record.steps[index + 1 :]:
        if later.state is StepState.PENDING:
            skipped = dataclasses.replace(later, skipped_because=reason).moved_to(StepState.SKIPPED)
            record = record.with_step(skipped)
            observer.step_changed(skipped)
    return dataclasses.replace(record, error=first.error)


def _cut_at(
    record: RunRecord, index: int, exc: BaseException, observer: Observer
) -> tuple[RunRecord, str | None, str]:
    """Record step ``index`` as Ctrl-C left it; the name of the step it cut short (None when
    that step had ended already) and the name of step ``index``."""
    at = record.steps[index]
    interrupted = exc.step if isinstance(exc, StepInterrupted) else None
    if interrupted is None and at.state in (StepState.PENDING, StepState.RUNNING):
        # Cut short before its process started (rendering, a retry's pause, a prompt).
        now = utc_now()
        interrupted = dataclasses.replace(
            at, started_at=at.started_at or now, ended_at=now, error=INTERRUPTED
        )
        if at.state is StepState.PENDING:
            interrupted = interrupted.moved_to(StepState.RUNNING, now)
        interrupted = interrupted.moved_to(StepState.FAILED, now)
    if interrupted is None:
        return record, None, at.name
    record = record.with_step(interrupted)
    observer.step_changed(interrupted)
    return record, interrupted.name, at.name
