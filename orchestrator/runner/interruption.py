"""A run stopped short, by Ctrl-C or by a person's cancel: the step it was in ends ``failed``
("interrupted", its attempt counted) or ``cancelled`` ("cancelled by NAME"), every later step
``skipped``, and the run carries why."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.model import StepState
from orchestrator.process import Cancelled, Interrupted
from orchestrator.record import Answer, RunError, RunRecord, StepRecord, Transition, utc_now

if TYPE_CHECKING:
    from orchestrator.runner.observer import Observer

INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Stop:
    """How a run was stopped short, in the words its record uses."""

    step_state: StepState
    step_error: str
    note: str
    verb: str
    by: str
    answer: Answer | None = None


CTRL_C = Stop(
    StepState.FAILED,
    INTERRUPTED,
    "[orch: interrupted by Ctrl-C; the step's processes were stopped]",
    "interrupted",
    "by the operator",
)


def cancelled_by(answer: Answer) -> Stop:
    """A person's cancel: the step it cut short ends ``cancelled``."""
    return Stop(
        StepState.CANCELLED,
        f"cancelled by {answer.by}",
        f"[orch: cancelled by {answer.by}; the step's processes were stopped]",
        "cancelled",
        f"by {answer.by}",
        answer,
    )


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


class CancelRequested(Exception):
    """A person cancelled the run while a step waited (for an answer, a retry, a health
    check): ``answer`` says who and when."""

    def __init__(self, answer: Answer, transitions: tuple[Transition, ...] = ()) -> None:
        super().__init__(f"cancelled by {answer.by}")
        self.answer = answer
        self.transitions = transitions


class StepCancelled(Exception):
    """The run was cancelled during a step; ``step`` is its final record (``cancelled``)."""

    def __init__(self, step: StepRecord, how: Stop) -> None:
        super().__init__(how.step_error)
        self.step = step
        self.how = how


def cut_short(
    current: StepRecord, logs: list[str], exc: BaseException, how: Stop = CTRL_C
) -> StepRecord:
    """The step as Ctrl-C (or a cancel) left it (its attempt counted); what it printed is added
    to ``logs``, which the caller writes before moving the step to its end at ``ended_at``."""
    printed = exc.output if isinstance(exc, Interrupted | Cancelled) else ""
    if printed and not printed.endswith("\n"):
        printed += "\n"
    logs.append(printed + how.note + "\n")
    moves = exc.transitions if isinstance(exc, CancelRequested) else ()
    return dataclasses.replace(
        current,
        ended_at=utc_now(),
        error=how.step_error,
        answer=how.answer,
        transitions=(*current.transitions, *moves),
    )


def interrupted_run(
    record: RunRecord,
    index: int,
    interrupted: StepRecord | None,
    observer: Observer,
    how: Stop = CTRL_C,
) -> tuple[RunRecord, str | None]:
    """The run as Ctrl-C (or a cancel) left it: the step it was in ``failed`` (``cancelled``),
    every later one ``skipped``."""
    at = record.steps[index]
    if interrupted is None and at.state in (StepState.PENDING, StepState.RUNNING):
        # Cut short before its process started (rendering, a retry's pause, a prompt).
        now = utc_now()
        interrupted = dataclasses.replace(
            at, started_at=at.started_at or now, ended_at=now, error=how.step_error
        )
        if at.state is StepState.PENDING:
            interrupted = interrupted.moved_to(StepState.RUNNING, now)
        interrupted = interrupted.moved_to(how.step_state, now)
    if interrupted is not None:
        record = record.with_step(interrupted)
        observer.step_changed(interrupted)
        reason = f"the run was {how.verb} during step '{interrupted.name}'"
    else:
        reason = f"the run was {how.verb} after step '{at.name}'"
    record = _skip_from(record, index + 1, reason, observer)
    name = interrupted.name if interrupted is not None else None
    message = (
        f"{how.verb} {how.by} during step '{name}'"
        if name is not None
        else f"{how.verb} {how.by} after step '{at.name}'"
    )
    return dataclasses.replace(record, error=RunError(step=name, message=message)), name


def cancelled_before(
    record: RunRecord, index: int, observer: Observer, answer: Answer
) -> RunRecord:
    """The run as a cancel found between steps left it: step ``index`` and every later one
    ``skipped``, nothing cut short."""
    name = record.steps[index].name
    record = _skip_from(record, index, f"the run was cancelled before step '{name}'", observer)
    message = f"cancelled by {answer.by} before step '{name}'"
    return dataclasses.replace(record, error=RunError(step=None, message=message), cancelled=answer)


def _skip_from(record: RunRecord, index: int, reason: str, observer: Observer) -> RunRecord:
    for later in record.steps[index:]:
        if later.state is StepState.PENDING:
            skipped = dataclasses.replace(later, skipped_because=reason).moved_to(StepState.SKIPPED)
            record = record.with_step(skipped)
            observer.step_changed(skipped)
    return record
