"""People steering a run in progress: confirming a waiting manual step, cancelling the run.

The runner asks a ``Steering`` (given by whoever runs it, see ``api.steering``) whether the
run was cancelled, and, at a manual step of an unattended run, to wait for a person's answer.
It knows nothing of where answers come from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from orchestrator.model import Step
from orchestrator.record import Answer, Transition
from orchestrator.runner.interruption import CancelRequested

CONFIRM = "confirm"
CANCEL = "cancel"
# How often a pause (a retry's delay, a health check's interval) looks for a cancel.
PAUSE_SLICE_SECONDS = 0.2


@dataclass(frozen=True)
class Waited:
    """How a wait for a person ended: their ``answer`` (None: the step's timeout passed), and
    the step's moves meanwhile (to ``waiting``, and back to ``running`` when confirmed)."""

    answer: Answer | None
    transitions: tuple[Transition, ...] = ()


class Steering(Protocol):
    def cancel_requested(self) -> Answer | None:
        """The newest cancel a person gave for this run, if any (asked often: must be cheap).
        A second cancel, given while cleanup steps run after the first, replaces it."""
        ...

    def wait_for_answer(self, step: Step, instruction: str) -> Waited:
        """Record that the run waits for a person at manual ``step`` and wait until one
        answers (``confirm`` or ``cancel``) or the step's timeout passes."""
        ...


def pause_for(steering: Steering | None) -> Callable[[float], None]:
    """``time.sleep`` that ends early with ``CancelRequested`` when the run is cancelled."""
    if steering is None:
        return time.sleep

    def pause(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            answer = steering.cancel_requested()
            if answer is not None:
                raise CancelRequested(answer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, PAUSE_SLICE_SECONDS))

    return pause


def stop_for(steering: Steering | None) -> Callable[[], bool] | None:
    """What a running process asks to know whether to end (the run was cancelled)."""
    if steering is None:
        return None
    return lambda: steering.cancel_requested() is not None


def cancel_answer(steering: Steering | None) -> Answer | None:
    return steering.cancel_requested() if steering is not None else None


@dataclass(frozen=True)
class AfterCancel:
    """A run's steering once the runner acted on the cancel ``handled``: only a later cancel
    counts (it stops the cleanup steps that run after the first)."""

    steering: Steering
    handled: Answer

    def cancel_requested(self) -> Answer | None:
        answer = self.steering.cancel_requested()
        return None if answer is None or answer == self.handled else answer

    def wait_for_answer(self, step: Step, instruction: str) -> Waited:
        return self.steering.wait_for_answer(step, instruction)
