"""The running side of people's answers (see ``answers``): ``runner.Steering`` for one run.

It looks for an answer in the run folder when the runner asks (a few times a second while a
step runs, between steps, while a manual step waits), and records what happens in the trace:
a run that waits for a person is committed ``waiting`` with the step and its instruction; a
confirmation moves it back to ``running`` (committed, with who answered and when); a cancel
ends it ``cancelled`` at the run's end commit.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta

from orchestrator.api.answers import take_answer
from orchestrator.api.ending import KeepsRunFolderCurrent
from orchestrator.api.recording_runs import RunRecorder
from orchestrator.errors import TraceError
from orchestrator.masking import Masker
from orchestrator.model import RunState, Step, StepState
from orchestrator.record import (
    Answer,
    RunRecord,
    StepRecord,
    Transition,
    WaitingFor,
    timestamp,
    utc_now,
)
from orchestrator.runner.steering import CANCEL, CONFIRM, Waited

log = logging.getLogger("orch")
# How often a waiting run looks for an answer.
WAIT_POLL_SECONDS = 0.25


class RunControl:
    """Answers for one run in progress, and the run-level record they change (state,
    transitions, what it waits for); the steps come from ``watcher``."""

    def __init__(
        self,
        book: RunRecorder,
        watcher: KeepsRunFolderCurrent,
        record: RunRecord,
        masker: Masker,
    ) -> None:
        self._book = book
        self._watcher = watcher
        self._masker = masker
        self.record = record
        self._cancel: Answer | None = None

    def cancel_requested(self) -> Answer | None:
        # Looked for even after a cancel: a second one stops the cleanup steps it let run.
        self._take(None)
        return self._cancel

    def step_running(self, step: StepRecord) -> None:
        """A step starts. After a wait that ended without a confirmation (a cancel, a
        timeout), or after a cancel, it is a cleanup step (``always()``, ``cancelled()``,
        ``failure()``): the run is recorded running again, and cancelled by whom, so that
        people see the cleanup and may stop it with a second cancel."""
        record = self.record
        if record.state is RunState.WAITING:
            record = record.moved_to(RunState.RUNNING)
        if self._cancel is not None and record.cancelled is None:
            record = dataclasses.replace(record, cancelled=self._cancel)
        if record is not self.record:
            self.record = record
            self._save()
            run, workflow = record.run_id, record.workflow.id
            log.info("run %s of %s: step '%s' runs all the same", run, workflow, step.name)

    def wait_for_answer(self, step: Step, instruction: str) -> Waited:
        now = utc_now()
        current = self._watcher.step(step.name)
        moves = [Transition(StepState.WAITING.value, now)]
        if current is not None:
            current = current.moved_to(StepState.WAITING, now)
            self._watcher.step_changed(current)
        until = now + timedelta(seconds=step.timeout_seconds)
        waiting = WaitingFor(step.name, self._masker.mask(instruction).rstrip("\n"), now, until)
        self.record = dataclasses.replace(self.record, waiting=waiting).moved_to(
            RunState.WAITING, now
        )
        self._save()
        run, workflow = self.record.run_id, self.record.workflow.id
        log.warning(
            "run %s of %s waits for a person at step '%s' until %s: "
            "orch confirm %s %s (or orch cancel %s)",
            run,
            workflow,
            step.name,
            timestamp(until),
            run,
            step.name,
            run,
        )
        answer = self._wait(step.name, step.timeout_seconds)
        self.record = dataclasses.replace(self.record, waiting=None)
        if answer is None or answer.action != CONFIRM:
            # The run's end commit records the failure or the cancel.
            return Waited(answer, tuple(moves))
        at = utc_now()
        moves.append(Transition(StepState.RUNNING.value, at))
        self.record = self.record.moved_to(RunState.RUNNING, at)
        if current is not None:
            resumed = dataclasses.replace(current, answer=answer).moved_to(StepState.RUNNING, at)
            self._watcher.step_changed(resumed)
        self._save()
        log.info("run %s of %s: step '%s' confirmed by %s", run, workflow, step.name, answer.by)
        return Waited(answer, tuple(moves))

    def merged(self, record: RunRecord) -> RunRecord:
        """``record`` (the runner's) with the run-level changes made while it ran."""
        return dataclasses.replace(record, transitions=self.record.transitions, waiting=None)

    def _wait(self, step: str, seconds: float) -> Answer | None:
        deadline = time.monotonic() + seconds
        while True:
            answer = self._take(step)
            if answer is not None:
                return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(remaining, WAIT_POLL_SECONDS))

    def _take(self, waiting_at: str | None) -> Answer | None:
        """The answer left for the run, if it applies now: a cancel always, a confirmation
        only of the step the run waits at. Others are dropped (and said so)."""
        answer = take_answer(self._book.folder)
        if answer is None:
            return None
        if answer.action == CANCEL:
            self._cancel = answer
            log.info(
                "run %s of %s: cancelled by %s",
                self.record.run_id,
                self.record.workflow.id,
                answer.by,
            )
            return answer
        if waiting_at is not None and answer.step in (None, waiting_at):
            return answer
        log.warning(
            "run %s: the confirmation by %s of step '%s' came when the run did not wait at it; "
            "it was dropped",
            self.record.run_id,
            answer.by,
            answer.step,
        )
        return None

    def _save(self) -> None:
        try:
            self._book.save(self._watcher.current(self.record))
        except TraceError as exc:
            # The run goes on; its end commit records it whole, or recovery does.
            log.warning("run %s: its state could not be recorded: %s", self.record.run_id, exc)
