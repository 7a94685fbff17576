"""A run stopped short, by Ctrl-C or by a person's cancel.

The first stop cuts the step it comes in short: ``failed`` ("interrupted", its attempt
counted) for Ctrl-C, ``cancelled`` ("cancelled by NAME") for a cancel. It makes the run
cancelled (``cancelled()`` is true): later steps are ``skipped`` except those whose ``if``
calls ``always()`` or ``cancelled()``, which run (see ``sequence``). A second stop, of
either kind, cuts the step it comes in short the same way and skips every step after it.
The run carries the first stop's error.
"""

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
    again: str  # how the record names this stop when it is the run's second one
    answer: Answer | None = None


CTRL_C = Stop(
    StepState.FAILED,
    INTERRUPTED,
    "[orch: interrupted by Ctrl-C; the step's processes were stopped]",
    "interrupted",
    "by the operator",
    "a second Ctrl-C",
)


def cancelled_by(answer: Answer) -> Stop:
    """A person's cancel: the step it cut short ends ``cancelled``."""
    return Stop(
        StepState.CANCELLED,
        f"cancelled by {answer.by}",
        f"[orch: cancelled by {answer.by}; the step's processes were stopped]",
        "cancelled",
        f"by {answer.by}",
        f"a second cancel, by {answer.by},",
        answer,
    )


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run. ``record`` has every step as it ended (the interrupted one
    ``failed``, later ones ``skipped`` or run as cleanup); ``restore`` gives Ctrl-C back once
    the caller has recorded the run."""

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


@dataclass(frozen=True)
class Interruption:
    """The run's first stop: during ``step`` (None: between steps). ``reason`` is what the
    steps it holds back record; ``error`` the run's error."""

    step: str | None
    reason: str
    error: RunError
    how: Stop


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


def interruption_at(
    record: RunRecord, index: int, cut: StepRecord | None, how: Stop, observer: Observer
) -> tuple[RunRecord, Interruption]:
    """The run as its first stop left it at step ``index``: that step cut short (``cut``, its
    final record, or recorded here when the stop came before its process started) unless it
    had ended already. Later steps are left to the caller: cleanup steps still run."""
    record, name, at = _cut_at(record, index, cut, how, observer)
    where = f"during step '{name}'" if name is not None else f"after step '{at}'"
    error = RunError(step=name, message=f"{how.verb} {how.by} {where}")
    return record, Interruption(name, f"the run was {how.verb} {where}", error, how)


def cancelled_before(record: RunRecord, index: int, answer: Answer) -> Interruption:
    """A cancel found between steps, before step ``index``: nothing is cut short."""
    name = record.steps[index].name
    error = RunError(step=None, message=f"cancelled by {answer.by} before step '{name}'")
    reason = f"the run was cancelled before step '{name}'"
    return Interruption(None, reason, error, cancelled_by(answer))


def stopped_again(
    record: RunRecord,
    index: int,
    cut: StepRecord | None,
    how: Stop,
    observer: Observer,
    *,
    before: bool = False,
) -> RunRecord:
    """A second stop, while cleanup steps ran after the first one: the step it came in cut
    short as ``how`` says, every later step ``skipped`` (``before``: it came between steps,
    before step ``index``, which is skipped too)."""
    if before:
        reason = f"{how.again} stopped the run before step '{record.steps[index].name}'"
        return _skip_from(record, index, reason, observer)
    record, name, at = _cut_at(record, index, cut, how, observer)
    where = f"during step '{name}'" if name is not None else f"after step '{at}'"
    return _skip_from(record, index + 1, f"{how.again} stopped the run {where}", observer)


def _cut_at(
    record: RunRecord, index: int, cut: StepRecord | None, how: Stop, observer: Observer
) -> tuple[RunRecord, str | None, str]:
    """Record step ``index`` as the stop left it; the name of the step it cut short (None when
    that step had ended already) and the name of step ``index``."""
    at = record.steps[index]
    if cut is None and at.state in (StepState.PENDING, StepState.RUNNING):
        # Cut short before its process started (rendering, a retry's pause, a prompt).
        now = utc_now()
        cut = dataclasses.replace(
            at,
            started_at=at.started_at or now,
            ended_at=now,
            error=how.step_error,
            answer=how.answer,
        )
        if at.state is StepState.PENDING:
            cut = cut.moved_to(StepState.RUNNING, now)
        cut = cut.moved_to(how.step_state, now)
    if cut is None:
        return record, None, at.name
    record = record.with_step(cut)
    observer.step_changed(cut)
    return record, cut.name, at.name


def _skip_from(record: RunRecord, index: int, reason: str, observer: Observer) -> RunRecord:
    for later in record.steps[index:]:
        if later.state is StepState.PENDING:
            skipped = dataclasses.replace(later, skipped_because=reason).moved_to(StepState.SKIPPED)
            record = record.with_step(skipped)
            observer.step_changed(skipped)
    return record
