"""One step's turn: its ``if``, its body rendered, its attempts (retries), its log.

A stop during the step (Ctrl-C, a person's cancel) ends it as ``interruption`` records it
and is raised to the step loop (``sequence``) as ``StepInterrupted`` / ``StepCancelled``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

from orchestrator import templating
from orchestrator.errors import TemplateError, describe_os_error
from orchestrator.model import Step, StepKind, StepState
from orchestrator.paths import PathEscape, inside
from orchestrator.process import Cancelled
from orchestrator.record import StepRecord, utc_now
from orchestrator.runner import context, files, manual, rendering, script
from orchestrator.runner.execution import Execution, Observer
from orchestrator.runner.interruption import (
    CancelRequested,
    StepCancelled,
    StepInterrupted,
    cancelled_by,
    cut_short,
)
from orchestrator.runner.livelog import LiveLog
from orchestrator.runner.outcome import Outcome
from orchestrator.runner.output import write_log
from orchestrator.runner.status import RunStatus
from orchestrator.runner.steering import cancel_answer, pause_for, stop_for


def run_step(
    execution: Execution,
    step: Step,
    current: StepRecord,
    env: Mapping[str, str],
    views: Mapping[str, context.StepView],
    observer: Observer,
    scratch: Path,
    status: RunStatus,
) -> StepRecord:
    """The step's final record; its ``if`` asks the status functions of ``status``."""
    template_context = rendering.template_context(execution, env=env, steps=views)
    try:
        if step.condition is not None and not rendering.condition_holds(
            execution, step, template_context, status
        ):
            return dataclasses.replace(
                current, skipped_because=f"if: {step.condition} was false"
            ).moved_to(StepState.SKIPPED)
        body = rendering.render_body(execution, step, template_context)
    except TemplateError as exc:
        now = utc_now()
        failed = dataclasses.replace(current, started_at=now, ended_at=now, error=str(exc))
        failed = failed.moved_to(StepState.RUNNING, now).moved_to(StepState.FAILED, now)
        _write_log(execution, failed, f"{exc}\n")
        return failed

    started = utc_now()
    current = dataclasses.replace(
        current,
        started_at=started,
        body_sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        rendered=execution.masker.mask(body),
    ).moved_to(StepState.RUNNING, started)
    observer.step_changed(current)

    # The variables themselves are not syntax: the marks of outside text end here.
    plain_env = {name: templating.plain(value) for name, value in env.items()}
    step_env = {**execution.environment, **plain_env, "ORCH_STEP": step.name}
    attempts = step.retries + 1
    logs: list[str] = []
    outcome = Outcome(ok=False, log="")
    live = _live_log(execution, current)
    try:
        for attempt in range(1, attempts + 1):
            try:
                if attempt > 1:
                    pause_for(execution.steering)(step.retry_delay_seconds)
                current = dataclasses.replace(current, attempts=attempt)
                if attempts > 1 and live is not None:
                    live.write(f"[orch: attempt {attempt} of {attempts}]\n")
                outcome = _guarded_attempt(execution, step, body, step_env, observer, scratch, live)
                if outcome.transitions:
                    moves = (*current.transitions, *outcome.transitions)
                    current = dataclasses.replace(current, transitions=moves)
            except KeyboardInterrupt as exc:
                cut = cut_short(current, logs, exc)
                _write_log(execution, cut, "".join(logs))
                raise StepInterrupted(cut.moved_to(StepState.FAILED, cut.ended_at)) from None
            except (Cancelled, CancelRequested) as exc:
                raise _cancelled_step(execution, current, logs, exc) from None
            if attempts > 1:
                logs.append(f"[orch: attempt {attempt} of {attempts}]\n")
            logs.append(outcome.log)
            if outcome.ok:
                break
    finally:
        if live is not None:
            live.close()

    ended = utc_now()
    ok, error = outcome.ok, outcome.error
    log_problem = _write_log(execution, current, "".join(logs))
    if log_problem is not None:
        # A step whose evidence could not be kept has not done its job.
        ok, error = False, log_problem if ok else f"{error}; {log_problem}"
    return dataclasses.replace(
        current,
        ended_at=ended,
        exit_code=outcome.exit_code,
        outputs=outcome.outputs,
        file=outcome.file,
        error=None if ok else error,
        confirmed_by=_confirmer(execution, step, outcome) if ok else None,
        answer=outcome.answer,
        continued_on_error=not ok and step.continue_on_error,
    ).moved_to(StepState.COMPLETED if ok else StepState.FAILED, ended)


def _confirmer(execution: Execution, step: Step, outcome: Outcome) -> str | None:
    if step.kind is not StepKind.MANUAL:
        return None
    return outcome.answer.by if outcome.answer is not None else execution.actor


def _live_log(execution: Execution, current: StepRecord) -> LiveLog | None:
    """Script steps print as they run: their output goes to the run folder as it comes."""
    if current.log is None or current.kind is not StepKind.SCRIPT:
        return None
    return LiveLog(execution.run_folder / current.log, execution.log_cap_bytes)


def _cancelled_step(
    execution: Execution,
    current: StepRecord,
    logs: list[str],
    exc: Cancelled | CancelRequested,
) -> StepCancelled:
    """The step a person's cancel cut short, its log written (what it printed, and a note)."""
    answer = exc.answer if isinstance(exc, CancelRequested) else cancel_answer(execution.steering)
    assert answer is not None  # a process is only stopped for a cancel
    how = cancelled_by(answer)
    cut = cut_short(current, logs, exc, how)
    _write_log(execution, cut, "".join(logs))
    return StepCancelled(cut.moved_to(StepState.CANCELLED, cut.ended_at), how)


def _guarded_attempt(
    execution: Execution,
    step: Step,
    body: str,
    env: Mapping[str, str],
    observer: Observer,
    scratch: Path,
    live: LiveLog | None = None,
) -> Outcome:
    """One attempt; what the operating system refuses (a full disk, a path that changed
    under the step) fails the step with the reason instead of stopping orch."""
    try:
        return _attempt(execution, step, body, env, observer, scratch, live)
    except OSError as exc:
        message = describe_os_error(exc, f"running step '{step.name}'")
        return Outcome(ok=False, log=message + "\n", error=message)


def _attempt(
    execution: Execution,
    step: Step,
    body: str,
    env: Mapping[str, str],
    observer: Observer,
    scratch: Path,
    live: LiveLog | None = None,
) -> Outcome:
    if step.kind is StepKind.FILE:
        return files.write_file(step, body, execution.workdir)
    if step.kind is StepKind.HEALTH:
        # Imported here: health steps alone need it, and it loads a YAML parser.
        from orchestrator.runner import health

        try:
            spec = health.parse_spec(body)
        except health.HealthSpecError as exc:
            return Outcome(ok=False, log=f"{exc}\n", error=str(exc))
        return health.poll(spec, step.timeout_seconds, pause_for(execution.steering))
    if step.kind is StepKind.MANUAL:
        return manual.confirm(execution, step, body, observer)
    cwd = execution.workdir
    if step.cwd:
        # Checked again right before the step: an earlier step may have changed the folder.
        try:
            cwd = inside(execution.workdir, step.cwd)
        except PathEscape as exc:
            message = f"cwd {exc}; the step did not run"
            return Outcome(ok=False, log=message + "\n", error=message)
        if not cwd.is_dir():
            what = "is a file, not a folder" if cwd.exists() else "does not exist"
            message = f"cwd {step.cwd} {what} ({cwd}); the step did not run"
            return Outcome(ok=False, log=message + "\n", error=message)
    on_start: Callable[[int], None] | None = None
    if execution.on_process_start is not None:
        noted, name = execution.on_process_start, step.name

        def on_start(pid: int) -> None:
            noted(name, pid)

    on_output: Callable[[str], None] | None = None
    if observer.verbose:
        name = step.name

        def on_output(line: str) -> None:
            observer.step_output(name, line)

    return script.run_script(
        step,
        body,
        scratch=scratch,
        cwd=cwd,
        env=env,
        masker=execution.masker,
        on_output=on_output,
        on_start=on_start,
        on_text=live.write if live is not None else None,
        stop=stop_for(execution.steering),
        document=str(execution.workflow_info.get("path") or execution.document.path),
    )


def _write_log(execution: Execution, step: StepRecord, text: str) -> str | None:
    """Write a step's log; the problem when it cannot be written (a half-written log is
    removed, so that what space it took is there for the run's record)."""
    if step.log is None:
        return None
    path = execution.run_folder / step.log
    try:
        write_log(path, text, execution.log_cap_bytes)
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return describe_os_error(exc, f"writing the log of step '{step.name}'", path)
    return None
