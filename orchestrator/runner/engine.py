"""Runs a document's steps in order: render just before running, retry, fail fast.

Knows nothing of git or HTTP services: it gets an ``Execution`` (everything a run needs) and
returns the run record with its steps filled in. The caller owns the run's own state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import templating
from orchestrator.errors import Diagnostic, DocumentError, TemplateError, describe_os_error
from orchestrator.model import Document, Step, StepKind, StepState
from orchestrator.paths import PathEscape, inside
from orchestrator.process import Cancelled, Masker, ignore_interrupts
from orchestrator.record import Answer, RunError, RunRecord, StepRecord, timestamp, utc_now
from orchestrator.runner import context, files, health, rendering, script
from orchestrator.runner.interruption import (
    CancelRequested,
    RunInterrupted,
    StepCancelled,
    StepInterrupted,
    cancelled_before,
    cancelled_by,
    cut_short,
    interrupted_run,
)
from orchestrator.runner.livelog import LiveLog
from orchestrator.runner.observer import Observer
from orchestrator.runner.outcome import Outcome
from orchestrator.runner.output import DEFAULT_LOG_CAP_BYTES, write_log
from orchestrator.runner.steering import CANCEL, Steering, pause_for, stop_for


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


def prepare(execution: Execution) -> dict[str, str]:
    """Check everything that can be checked before a step runs; return the rendered ``env``.

    Raises ``DocumentError`` (paths outside the working tree, programs not installed, step
    bodies that would be refused: see ``rendering.problems_before_run``) or ``TemplateError``
    (an ``env`` value that does not render), so nothing runs half-way.
    """
    document = execution.document
    problems: list[Diagnostic] = []
    for step in document.steps:
        for attribute in ("cwd", "file"):
            value = getattr(step, attribute)
            if value is None:
                continue
            try:
                resolved = inside(execution.workdir, value)
            except PathEscape as exc:
                problems.append(
                    Diagnostic(str(document.path), step.line, 1, f"step '{step.name}': {exc}")
                )
                continue
            kind_problem = _path_kind_problem(attribute, value, resolved)
            if kind_problem is not None:
                problems.append(
                    Diagnostic(
                        str(document.path), step.line, 1, f"step '{step.name}': {kind_problem}"
                    )
                )
        if step.kind is StepKind.SCRIPT and step.command:
            program = step.command[0]
            if shutil.which(program, path=execution.environment.get("PATH")) is None:
                problems.append(
                    Diagnostic(
                        str(document.path),
                        step.line,
                        1,
                        f"step '{step.name}' needs {program!r}, which is not on PATH: "
                        "install it or change the step's language or interpreter",
                    )
                )
    if problems:
        raise DocumentError(problems)
    env = rendering.render_env(execution)
    refused = rendering.problems_before_run(execution, env)
    if refused:
        raise DocumentError(refused)
    return env


def _path_kind_problem(attribute: str, value: str, resolved: Path) -> str | None:
    """``file`` must not name a folder, ``cwd`` must name one (when they exist already)."""
    if attribute == "file" and resolved.is_dir():
        return f"file={value} is a folder: a file step writes one file; name it, like {value}/NAME"
    if attribute == "cwd" and resolved.exists() and not resolved.is_dir():
        return f"cwd={value} is a file, not a folder"
    return None


def template_context_for(
    execution: Execution,
    *,
    env: Mapping[str, str],
    steps: Mapping[str, Any],
) -> dict[str, Any]:
    return rendering.template_context(execution, env=env, steps=steps)


def context_after(
    execution: Execution, env: Mapping[str, str], record: RunRecord
) -> dict[str, Any]:
    """The template context once the steps ran (for artifact fields)."""
    views = {
        step.name: context.StepView(
            state=step.state.value, exit_code=step.exit_code, outputs=step.outputs
        )
        for step in record.steps
        if step.state is not StepState.PENDING
    }
    return template_context_for(execution, env=env, steps=views)


def initial_steps(execution: Execution) -> tuple[StepRecord, ...]:
    return tuple(
        StepRecord(
            name=step.name,
            kind=step.kind,
            section=step.section,
            line=step.line,
            log=log_name(index, step),
            source_sha256=source_digest(step),
        )
        for index, step in enumerate(execution.document.steps)
    )


def source_digest(step: Step) -> str:
    """The step as written: kind, language, attributes and unrendered body. Two documents
    whose step has the same digest run the same thing (given the same inputs)."""
    written = {
        "kind": step.kind.value,
        "language": step.language,
        "attrs": dict(sorted(step.attrs.items())),
        "body": step.body,
    }
    canonical = json.dumps(written, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def execute(
    execution: Execution,
    record: RunRecord,
    env: Mapping[str, str],
    observer: Observer,
) -> RunRecord:
    """Run every step in order and return ``record`` with the steps' results.

    Raises ``RunInterrupted`` on Ctrl-C, with the steps recorded as they ended.
    """
    try:
        scratch = tempfile.TemporaryDirectory(prefix="orch-run-", ignore_cleanup_errors=True)
    except OSError as exc:
        problem = describe_os_error(exc, "creating the run's scratch folder")
        return _nothing_ran(record, problem, observer)
    with scratch:
        return _execute_in(execution, record, env, observer, Path(scratch.name))


def _nothing_ran(record: RunRecord, problem: str, observer: Observer) -> RunRecord:
    for current in record.steps:
        skipped = dataclasses.replace(current, skipped_because=problem).moved_to(StepState.SKIPPED)
        record = record.with_step(skipped)
        observer.step_changed(skipped)
    return dataclasses.replace(record, error=RunError(step=None, message=problem))


def _execute_in(
    execution: Execution,
    record: RunRecord,
    env: Mapping[str, str],
    observer: Observer,
    scratch: Path,
) -> RunRecord:
    views: dict[str, context.StepView] = {}
    failed: StepRecord | None = None
    index = 0
    try:
        for index, step in enumerate(execution.document.steps):
            current = record.steps[index]
            taken = execution.taken_over.get(step.name)
            if failed is not None:
                current = dataclasses.replace(
                    current, skipped_because=f"step '{failed.name}' failed before it"
                ).moved_to(StepState.SKIPPED)
            elif taken is not None:
                current = taken
                views[step.name] = _view_of(current)
            else:
                cancel = _cancel_answer(execution)
                if cancel is not None:
                    return cancelled_before(record, index, observer, cancel)
                current = _run_step(execution, step, current, env, views, observer, scratch)
                views[step.name] = _view_of(current)
                if current.state is StepState.FAILED and not current.continued_on_error:
                    failed = current
            record = record.with_step(current)
            observer.step_changed(current)
    except KeyboardInterrupt as exc:
        restore = ignore_interrupts()
        interrupted = exc.step if isinstance(exc, StepInterrupted) else None
        record, name = interrupted_run(record, index, interrupted, observer)
        raise RunInterrupted(record, name, restore) from None
    except StepCancelled as exc:
        record, _ = interrupted_run(record, index, exc.step, observer, exc.how)
        return dataclasses.replace(record, cancelled=exc.how.answer)
    if failed is not None:
        record = dataclasses.replace(
            record, error=RunError(step=failed.name, message=failed.error or "failed")
        )
    return record


def _view_of(step: StepRecord) -> context.StepView:
    return context.StepView(state=step.state.value, exit_code=step.exit_code, outputs=step.outputs)


def _cancel_answer(execution: Execution) -> Answer | None:
    return execution.steering.cancel_requested() if execution.steering is not None else None


def _run_step(
    execution: Execution,
    step: Step,
    current: StepRecord,
    env: Mapping[str, str],
    views: Mapping[str, context.StepView],
    observer: Observer,
    scratch: Path,
) -> StepRecord:
    template_context = template_context_for(execution, env=env, steps=views)
    try:
        if step.condition is not None and not rendering.condition_holds(
            execution, step, template_context
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
    answer = exc.answer if isinstance(exc, CancelRequested) else _cancel_answer(execution)
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
        try:
            spec = health.parse_spec(body)
        except health.HealthSpecError as exc:
            return Outcome(ok=False, log=f"{exc}\n", error=str(exc))
        return health.poll(spec, step.timeout_seconds, pause_for(execution.steering))
    if step.kind is StepKind.MANUAL:
        return _confirm(execution, step, body, observer)
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
    )


def _confirm(execution: Execution, step: Step, instruction: str, observer: Observer) -> Outcome:
    if step.name in execution.confirmed:
        return Outcome(ok=True, log=f"confirmed in advance by {execution.actor}\n")
    answer = observer.confirm(step, instruction)
    if answer is True:
        return Outcome(ok=True, log=f"confirmed by {execution.actor}\n")
    if answer is False:
        return Outcome(ok=False, log="declined\n", error="the operator declined this step")
    if execution.steering is not None and execution.waits_for_people:
        return _wait_for_person(execution.steering, step, instruction)
    message = (
        f"manual step '{step.name}' needs a person to confirm it: run interactively, "
        f"or confirm it in advance with --confirm {step.name}"
    )
    return Outcome(ok=False, log=message + "\n", error=message)


def _wait_for_person(steering: Steering, step: Step, instruction: str) -> Outcome:
    """An unattended run at a manual step: the run waits (recorded ``waiting``) until a
    person confirms or cancels it, or the step's timeout fails it."""
    waited = steering.wait_for_answer(step, instruction)
    answer = waited.answer
    if answer is None:
        message = (
            f"nobody confirmed manual step '{step.name}' within its timeout "
            f"({step.timeout_seconds:g}s)"
        )
        return Outcome(ok=False, log=message + "\n", error=message, transitions=waited.transitions)
    if answer.action == CANCEL:
        raise CancelRequested(answer, waited.transitions)
    note = f"confirmed by {answer.by} at {timestamp(answer.at)}\n"
    return Outcome(ok=True, log=note, answer=answer, transitions=waited.transitions)


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
