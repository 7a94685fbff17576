"""The run's steps in document order, and the stops that end them early.

Each step's turn: taken over (a resumed run), held back (``RunStatus.holds_back``: a failure
or a stop before it, unless its ``if`` calls a status function), or run (``attempts``).

A stop is Ctrl-C or a person's cancel (``orch cancel``, the server's cancel), during a step
or between two. The first one makes the run cancelled (``cancelled()`` is true), so cleanup
steps (``always()``, ``cancelled()``) still run, each within its own timeout; a second stop,
of either kind, ends them and skips every step after. The first stop decides how the run
ends: after Ctrl-C ``RunInterrupted`` is raised (the run is ``failed``, orch exits 130); after
a cancel the record is returned with ``cancelled`` set (the run is ``cancelled``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

from orchestrator.model import Step, StepState
from orchestrator.process import ignore_interrupts
from orchestrator.record import Answer, RunError, RunRecord, StepRecord
from orchestrator.runner import context
from orchestrator.runner.attempts import run_step
from orchestrator.runner.execution import Execution, Observer
from orchestrator.runner.interruption import (
    CTRL_C,
    Interruption,
    RunInterrupted,
    StepCancelled,
    StepInterrupted,
    Stop,
    cancelled_before,
    interruption_at,
    stopped_again,
)
from orchestrator.runner.status import RunStatus
from orchestrator.runner.steering import AfterCancel, cancel_answer


def run_steps(
    execution: Execution,
    record: RunRecord,
    env: Mapping[str, str],
    observer: Observer,
    scratch: Path,
) -> RunRecord:
    """Every step in turn; ``record`` with their results (see the module's text)."""
    return _Sequence(execution, record, env, observer, scratch).run()


def view_of(step: StepRecord) -> context.StepView:
    """What later ``if`` conditions and templates see of a step that ran or was skipped."""
    return context.StepView(state=step.state.value, exit_code=step.exit_code, outputs=step.outputs)


class _Sequence:
    def __init__(
        self,
        execution: Execution,
        record: RunRecord,
        env: Mapping[str, str],
        observer: Observer,
        scratch: Path,
    ) -> None:
        self.execution = execution
        self.record = record
        self.env = env
        self.observer = observer
        self.scratch = scratch
        self.views: dict[str, context.StepView] = {}
        self.status = RunStatus()
        self.first: Interruption | None = None
        # After a first Ctrl-C, further ones are ignored except while a cleanup step runs
        # (then one stops it, and the run): ``restore`` gives Ctrl-C back.
        self.restore: Callable[[], None] | None = None

    def run(self) -> RunRecord:
        for index, step in enumerate(self.execution.document.steps):
            try:
                ended = self._turn(index, step)
            except KeyboardInterrupt as exc:
                self.restore = self.restore or ignore_interrupts()
                cut = exc.step if isinstance(exc, StepInterrupted) else None
                ended = self._stopped(index, cut, CTRL_C)
            except StepCancelled as exc:
                ended = self._stopped(index, exc.step, exc.how)
            if ended:
                break
        return self._end()

    def _turn(self, index: int, step: Step) -> bool:
        """Step ``index``'s turn; True when a second stop ended the run before it."""
        current = self.record.steps[index]
        taken = self.execution.taken_over.get(step.name)
        if taken is not None:
            self._settle(taken)
            return False
        cancel = cancel_answer(self.execution.steering)
        if cancel is not None and self._cancelled_before(index, cancel):
            return True
        held_back = self.status.holds_back(step)
        if held_back is not None:
            current = dataclasses.replace(current, skipped_because=held_back).moved_to(
                StepState.SKIPPED
            )
        else:
            current = self._run(step, current)
        self._settle(current)
        return False

    def _run(self, step: Step, current: StepRecord) -> StepRecord:
        if self.restore is not None:
            self.restore()  # a second Ctrl-C stops this cleanup step, and the run
            self.restore = None
        current = run_step(
            self.execution,
            step,
            current,
            self.env,
            self.views,
            self.observer,
            self.scratch,
            self.status,
        )
        if self.first is not None and self.first.how is CTRL_C:
            self.restore = ignore_interrupts()
        if current.state is StepState.FAILED and not current.continued_on_error:
            self.status = self.status.after_failure_of(current.name)
        return current

    def _settle(self, current: StepRecord) -> None:
        self.views[current.name] = view_of(current)
        self.record = self.record.with_step(current)
        self.observer.step_changed(current)

    def _stopped(self, index: int, cut: StepRecord | None, how: Stop) -> bool:
        """A stop during step ``index`` (or after it); True when it was the second."""
        if self.first is not None:
            self.record = stopped_again(self.record, index, cut, how, self.observer)
            return True
        self.record, first = interruption_at(self.record, index, cut, how, self.observer)
        self._after_first(first)
        self.views.update({s.name: view_of(s) for s in self.record.steps[: index + 1]})
        return False

    def _cancelled_before(self, index: int, answer: Answer) -> bool:
        """A cancel found before step ``index``; True when it was the run's second stop."""
        if self.first is not None:
            how = cancelled_before(self.record, index, answer).how
            self.record = stopped_again(self.record, index, None, how, self.observer, before=True)
            return True
        self._after_first(cancelled_before(self.record, index, answer))
        return False

    def _after_first(self, first: Interruption) -> None:
        self.first = first
        self.status = self.status.after_cancel(first.reason)
        steering = self.execution.steering
        if first.how.answer is not None and steering is not None:
            # Cleanup steps run now; only a later cancel stops them.
            after = AfterCancel(steering, first.how.answer)
            self.execution = dataclasses.replace(self.execution, steering=after)

    def _end(self) -> RunRecord:
        record, first = self.record, self.first
        if first is None:
            if self.status.failed is not None:
                failed = next(s for s in record.steps if s.name == self.status.failed)
                error = RunError(step=failed.name, message=failed.error or "failed")
                record = dataclasses.replace(record, error=error)
            return record
        record = dataclasses.replace(record, error=first.error)
        if first.how.answer is None:
            raise RunInterrupted(record, first.step, self.restore or ignore_interrupts())
        if self.restore is not None:
            self.restore()  # a Ctrl-C that stopped the cleanup after a cancel
        return dataclasses.replace(record, cancelled=first.how.answer)
