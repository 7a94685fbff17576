"""Runs a document's steps: checks before anything runs, then the steps in order (see
``sequence``: render just before running, retry, fail fast, cleanup after a failure or a
stop), and the template context once they ran.

Knows nothing of git or HTTP services: it gets an ``Execution`` (everything a run needs) and
returns the run record with its steps filled in. The caller owns the run's own state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import Diagnostic, DocumentError, describe_os_error
from orchestrator.model import Step, StepKind, StepState
from orchestrator.paths import PathEscape, inside
from orchestrator.record import RunError, RunRecord, StepRecord
from orchestrator.runner import rendering
from orchestrator.runner.execution import Execution, Observer, SilentObserver, log_name
from orchestrator.runner.sequence import run_steps, view_of

__all__ = [
    "Execution",
    "Observer",
    "SilentObserver",
    "context_after",
    "execute",
    "initial_steps",
    "log_name",
    "prepare",
    "source_digest",
    "template_context_for",
]


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
        step.name: view_of(step) for step in record.steps if step.state is not StepState.PENDING
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
    """Run every step in order and return ``record`` with the steps' results (a run a
    person cancelled: with ``cancelled`` set).

    Raises ``RunInterrupted`` on Ctrl-C, with the steps recorded as they ended.
    """
    try:
        scratch = tempfile.TemporaryDirectory(prefix="orch-run-", ignore_cleanup_errors=True)
    except OSError as exc:
        problem = describe_os_error(exc, "creating the run's scratch folder")
        return _nothing_ran(record, problem, observer)
    with scratch:
        return run_steps(execution, record, env, observer, Path(scratch.name))


def _nothing_ran(record: RunRecord, problem: str, observer: Observer) -> RunRecord:
    for current in record.steps:
        skipped = dataclasses.replace(current, skipped_because=problem).moved_to(StepState.SKIPPED)
        record = record.with_step(skipped)
        observer.step_changed(skipped)
    return dataclasses.replace(record, error=RunError(step=None, message=problem))
