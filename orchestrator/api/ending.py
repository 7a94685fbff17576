"""The end of a run: its artifacts, its final record, and what happens when either cannot be
written (a full disk, a broken store or trace): the run fails with the reason, never a crash,
and a final record that cannot be committed waits for the next orch command."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from orchestrator import runner
from orchestrator.api import recording_runs
from orchestrator.api.run_request import Prepared
from orchestrator.errors import describe_os_error
from orchestrator.model import RunState, Step, StepState
from orchestrator.record import RunError, RunRecord, StepRecord, utc_now

log = logging.getLogger("orch")


def artifacts(
    prepared: Prepared, execution: runner.Execution, env: dict[str, str], record: RunRecord
) -> tuple[RunRecord, str | None]:
    """Generate and publish the artifacts; what the disk or the store refuses is a problem of
    the run (it fails with the reason), never a crash."""
    # Imported here: packaging and publishing load the HTTP client and the local store
    # (sqlite3), which a run without artifacts should not pay for at start-up.
    import sqlite3

    from orchestrator.api import run_artifacts

    template_context = runner.context_after(execution, env, record)
    try:
        return run_artifacts.generate_and_publish(prepared, record, template_context)
    except OSError as exc:
        return record, _artifact_problem(prepared, exc)
    except sqlite3.Error as exc:
        store = prepared.place.settings.local_store
        if "full" in str(exc):
            problem = f"no space left on device while writing the local artifact store ({store})"
            return record, problem
        return record, f"the local artifact store {store} failed: {exc}"


# Where an error without a file name was raised: a failed write() names no file, but the
# module it was raised in tells which stage was writing.
_STAGE_MODULES = {
    "orchestrator.dropboxmini.store": "dropbox",
    "orchestrator.artifacts.package": "packages",
    "orchestrator.artifacts.publish": "outbox",
}
_STAGE_NAMES = {
    "outbox": "the outbox",
    "dropbox": "the local artifact store",
    "packages": "the artifact package",
}


def _artifact_problem(prepared: Prepared, exc: OSError) -> str:
    """What was being written when packaging or publishing failed, and where."""
    state_dir = prepared.place.settings.state_dir.resolve()
    for path in (exc.filename2, exc.filename):
        if path is None:
            continue
        with contextlib.suppress(ValueError, IndexError):
            top = Path(str(path)).resolve().relative_to(state_dir).parts[0]
            if top in _STAGE_NAMES:
                if top == "outbox" and path == exc.filename2:
                    # Half a copy is no outbox entry (it has no description beside it): it
                    # would only hold the space the run's record needs.
                    Path(str(path)).unlink(missing_ok=True)
                return describe_os_error(exc, f"writing {_STAGE_NAMES[top]}", path)
    stage = _raised_in(exc)
    if stage is not None:
        return describe_os_error(exc, f"writing {_STAGE_NAMES[stage]}", state_dir / stage)
    return describe_os_error(exc, "packaging or publishing the artifacts")


def _raised_in(exc: BaseException) -> str | None:
    """The stage (a folder of the state folder) whose module raised ``exc``, innermost first."""
    frames = []
    trace = exc.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame.f_globals.get("__name__"))
        trace = trace.tb_next
    for module in reversed(frames):
        if module in _STAGE_MODULES:
            return _STAGE_MODULES[module]
    return None


def record_end(
    book: recording_runs.RunRecorder, record: RunRecord, error: RunError | None
) -> RunRecord:
    """Record the run's end. When that fails (a full disk, a broken trace) the run is
    ``failed`` with the reason, and its final record waits for the next orch command."""
    final = _finished(record, error)
    problem = book.finish(final)
    if problem is None:
        return final
    if error is None:
        unrecorded = RunError(step=None, message=f"the run's end could not be recorded: {problem}")
        final = _finished(record, unrecorded)
    book.keep_for_recovery(final, problem)
    log.warning(
        "run %s could not be recorded in the trace: %s; the next orch command on this host "
        "records it as %s once that is fixed",
        final.run_id,
        problem,
        final.state.value,
    )
    return final


class KeepsRunFolderCurrent:
    """Passes step changes on, and notes each in the run folder's journal, so that a run whose
    process dies can be recovered with the step it was in (one small append per change)."""

    def __init__(self, observer: runner.Observer, book: recording_runs.RunRecorder):
        self._observer = observer
        self._book = book
        self._steps: dict[str, StepRecord] = {}
        # Hears each step that starts running, once its start is in the journal.
        self.on_step_running: Callable[[StepRecord], None] | None = None

    def latest(self, record: RunRecord) -> RunRecord:
        """``record`` with every step as last reported (for a run cut short)."""
        for step in self._steps.values():
            open_ = step.state in (StepState.RUNNING, StepState.WAITING)
            record = record.with_step(step.moved_to(StepState.FAILED) if open_ else step)
        return record

    def current(self, record: RunRecord) -> RunRecord:
        """``record`` with every step as last reported (a run in progress)."""
        for step in self._steps.values():
            record = record.with_step(step)
        return record

    def step(self, name: str) -> StepRecord | None:
        return self._steps.get(name)

    @property
    def verbose(self) -> bool:
        return self._observer.verbose

    def step_changed(self, step: StepRecord) -> None:
        self._steps[step.name] = step
        self._book.note_step(step)
        if step.state is StepState.RUNNING and self.on_step_running is not None:
            self.on_step_running(step)
        self._observer.step_changed(step)

    def step_output(self, step: str, line: str) -> None:
        self._observer.step_output(step, line)

    def confirm(self, step: Step, instruction: str) -> bool | None:
        return self._observer.confirm(step, instruction)


def running_step(record: RunRecord) -> str | None:
    """The step a cut-short run was in: the last one that started and did not complete."""
    started = [s for s in record.steps if s.started_at is not None]
    return started[-1].name if started and started[-1].state is StepState.FAILED else None


def _finished(record: RunRecord, error: RunError | None) -> RunRecord:
    ended = utc_now()
    state = RunState.FAILED if error is not None else RunState.COMPLETED
    if record.cancelled is not None:
        state = RunState.CANCELLED
    final = dataclasses.replace(record, ended_at=ended, error=error, waiting=None)
    return final.moved_to(state, ended)


def log_start(record: RunRecord) -> None:
    """The line a long-running orch (``serve``, ``schedule``) shows when a run starts."""
    trigger = record.trigger
    log.info(
        "run %s of %s started (%s by %s)",
        record.run_id,
        record.workflow.id,
        trigger.source.value,
        trigger.actor,
    )


def log_end(record: RunRecord) -> None:
    """... and when it ends: its state, how long it took, and why it did not complete."""
    seconds = record.duration_seconds
    took = f" after {seconds:.1f}s" if seconds is not None else ""
    reason = f": {record.error.message}" if record.error is not None else ""
    log.info(
        "run %s of %s ended %s%s%s",
        record.run_id,
        record.workflow.id,
        record.state.value,
        took,
        reason,
    )
