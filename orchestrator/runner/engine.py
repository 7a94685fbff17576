"""Runs a document's steps in order: render just before running, retry, fail fast.

Knows nothing of git or HTTP services: it gets an ``Execution`` (everything a run needs) and
returns the run record with its steps filled in. The caller owns the run's own state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator import templating
from orchestrator.errors import Diagnostic, DocumentError, TemplateError
from orchestrator.model import Document, Step, StepKind, StepState
from orchestrator.paths import PathEscape, inside
from orchestrator.process import Masker
from orchestrator.record import RunError, RunRecord, StepRecord, utc_now
from orchestrator.runner import context, files, health, rendering, script
from orchestrator.runner.outcome import Outcome
from orchestrator.runner.output import DEFAULT_LOG_CAP_BYTES, write_log


class Observer(Protocol):
    """Who watches a run: the CLI's live display, or nobody."""

    @property
    def verbose(self) -> bool: ...

    def step_changed(self, step: StepRecord) -> None: ...

    def step_output(self, step: str, line: str) -> None: ...

    def confirm(self, step: Step, instruction: str) -> bool | None:
        """Ask a person to confirm a manual step; None when nobody can be asked."""
        ...


class SilentObserver:
    verbose = False

    def step_changed(self, step: StepRecord) -> None:
        pass

    def step_output(self, step: str, line: str) -> None:
        pass

    def confirm(self, step: Step, instruction: str) -> bool | None:
        return None


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
    render_limits: templating.Limits = field(default_factory=templating.Limits)

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
                inside(execution.workdir, value)
            except PathEscape as exc:
                problems.append(
                    Diagnostic(str(document.path), step.line, 1, f"step '{step.name}': {exc}")
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
        )
        for index, step in enumerate(execution.document.steps)
    )


def execute(
    execution: Execution,
    record: RunRecord,
    env: Mapping[str, str],
    observer: Observer,
) -> RunRecord:
    """Run every step in order and return ``record`` with the steps' results."""
    with tempfile.TemporaryDirectory(prefix="orch-run-") as scratch:
        return _execute_in(execution, record, env, observer, Path(scratch))


def _execute_in(
    execution: Execution,
    record: RunRecord,
    env: Mapping[str, str],
    observer: Observer,
    scratch: Path,
) -> RunRecord:
    views: dict[str, context.StepView] = {}
    failed: StepRecord | None = None
    for index, step in enumerate(execution.document.steps):
        current = record.steps[index]
        if failed is not None:
            current = dataclasses.replace(
                current, skipped_because=f"step '{failed.name}' failed before it"
            ).moved_to(StepState.SKIPPED)
        else:
            current = _run_step(execution, step, current, env, views, observer, scratch)
            views[step.name] = context.StepView(
                state=current.state.value, exit_code=current.exit_code, outputs=current.outputs
            )
            if current.state is StepState.FAILED and not current.continued_on_error:
                failed = current
        record = record.with_step(current)
        observer.step_changed(current)
    if failed is not None:
        record = dataclasses.replace(
            record, error=RunError(step=failed.name, message=failed.error or "failed")
        )
    return record


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
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(step.retry_delay_seconds)
        outcome = _attempt(execution, step, body, step_env, observer, scratch)
        if attempts > 1:
            logs.append(f"[orch: attempt {attempt} of {attempts}]\n")
        logs.append(outcome.log)
        current = dataclasses.replace(current, attempts=attempt)
        if outcome.ok:
            break

    ended = utc_now()
    current = dataclasses.replace(
        current,
        ended_at=ended,
        exit_code=outcome.exit_code,
        outputs=outcome.outputs,
        file=outcome.file,
        error=None if outcome.ok else outcome.error,
        confirmed_by=execution.actor if outcome.ok and step.kind is StepKind.MANUAL else None,
        continued_on_error=not outcome.ok and step.continue_on_error,
    ).moved_to(StepState.COMPLETED if outcome.ok else StepState.FAILED, ended)
    _write_log(execution, current, "".join(logs))
    return current


def _attempt(
    execution: Execution,
    step: Step,
    body: str,
    env: Mapping[str, str],
    observer: Observer,
    scratch: Path,
) -> Outcome:
    if step.kind is StepKind.FILE:
        return files.write_file(step, body, execution.workdir)
    if step.kind is StepKind.HEALTH:
        try:
            spec = health.parse_spec(body)
        except health.HealthSpecError as exc:
            return Outcome(ok=False, log=f"{exc}\n", error=str(exc))
        return health.poll(spec, step.timeout_seconds)
    if step.kind is StepKind.MANUAL:
        return _confirm(execution, step, body, observer)
    cwd = inside(execution.workdir, step.cwd) if step.cwd else execution.workdir
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
    )


def _confirm(execution: Execution, step: Step, instruction: str, observer: Observer) -> Outcome:
    if step.name in execution.confirmed:
        return Outcome(ok=True, log=f"confirmed in advance by {execution.actor}\n")
    answer = observer.confirm(step, instruction)
    if answer is True:
        return Outcome(ok=True, log=f"confirmed by {execution.actor}\n")
    if answer is False:
        return Outcome(ok=False, log="declined\n", error="the operator declined this step")
    message = (
        f"manual step '{step.name}' needs a person to confirm it: run interactively, "
        f"or confirm it in advance with --confirm {step.name}"
    )
    return Outcome(ok=False, log=message + "\n", error=message)


def _write_log(execution: Execution, step: StepRecord, text: str) -> None:
    if step.log is not None:
        write_log(execution.run_folder / step.log, text, execution.log_cap_bytes)
