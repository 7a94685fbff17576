"""``orch apply DOCUMENT``: run a document here, show its steps, report the run.

The one implementation behind both ways in (``cli.fastpath`` and the Typer command in
``cli.commands``). It imports neither Typer nor rich: where stderr is no terminal its lines
are plain writes (``cli.output``); rich comes in for a terminal (``cli.display``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator import api
from orchestrator.cli.display import LiveDisplay
from orchestrator.cli.errors import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PUBLICATION_PENDING,
)
from orchestrator.cli.output import Output
from orchestrator.model import RunState, Step
from orchestrator.record import RunRecord, to_json


@dataclass(frozen=True)
class ApplyArguments:
    """``orch apply``'s options for a run here (without ``--resume`` and ``--queue``)."""

    document: Path
    inputs: tuple[str, ...] = ()
    inputs_file: Path | None = None
    allow_draft: bool = False
    confirm: tuple[str, ...] = ()
    verbose: bool = False
    as_json: bool = False


def request_for(arguments: ApplyArguments) -> api.RunRequest:
    return api.RunRequest(
        path=arguments.document,
        cli_inputs=arguments.inputs,
        inputs_file=arguments.inputs_file,
        allow_draft=arguments.allow_draft,
        confirmed=frozenset(arguments.confirm),
    )


def apply_here(arguments: ApplyArguments, err: Output) -> int:
    """Run the document; returns the exit code (``docs/cli.md``)."""
    interactive = sys.stdin.isatty()
    prepared = api.prepare(dataclasses.replace(request_for(arguments), interactive=interactive))
    return run_here(
        prepared, err, verbose=arguments.verbose, as_json=arguments.as_json, interactive=interactive
    )


def run_here(
    prepared: api.Prepared, err: Output, *, verbose: bool, as_json: bool, interactive: bool
) -> int:
    """Run a prepared run with the live display and report it (``orch apply``, ``orch
    rerun``, ``orch apply --resume``); returns the exit code."""
    steps: list[Step] = list(prepared.document.steps)
    interrupted: api.RunInterrupted | None = None
    with LiveDisplay(err, steps, verbose=verbose, interactive=interactive) as display:
        try:
            record = api.run_prepared(prepared, display, display.waiting)
        except api.RunInterrupted as exc:
            interrupted, record = exc, exc.record
        except KeyboardInterrupt:  # while waiting for another run, before any step
            err.print(
                "orch: interrupted by Ctrl-C before the run started: nothing ran", highlight=True
            )
            return EXIT_INTERRUPTED
    if as_json:
        sys.stdout.write(json.dumps(to_json(record), indent=2, ensure_ascii=False) + "\n")
    summarise(err, record, api.run_folder(prepared, record.run_id), verbose=verbose)
    if interrupted is not None:
        during = f"during step '{interrupted.step}'" if interrupted.step else "between steps"
        later = after_ctrl_c(record, display.ran_after_ctrl_c)
        err.print(
            ("interrupted by Ctrl-C", "bold red"),
            f" {during}: its processes were stopped, {later}; "
            f"run {record.run_id} is recorded as failed",
        )
        return EXIT_INTERRUPTED
    return exit_code(record)


def after_ctrl_c(record: RunRecord, ran: list[str]) -> str:
    """What became of the steps after the one Ctrl-C stopped: skipped, except those whose
    ``if`` runs them all the same (``always()``, ``cancelled()``)."""
    if not ran:
        return "later steps skipped"
    states = {step.name: step for step in record.steps}
    done = []
    for name in ran:
        step = states[name]
        if step.state.value == "failed":
            how = "stopped by a second Ctrl-C" if step.error == "interrupted" else "failed"
        else:
            how = step.state.value
        done.append(f"'{name}' ({how})")
    steps = "step" if len(done) == 1 else "steps"
    return f"{steps} {', '.join(done)} ran all the same, the other later steps were skipped"


def exit_code(record: RunRecord) -> int:
    if record.state is not RunState.COMPLETED:
        return EXIT_FAILED
    return EXIT_PUBLICATION_PENDING if record.publication_pending else EXIT_COMPLETED


def summarise(err: Output, record: RunRecord, folder: Path, *, verbose: bool) -> None:
    if record.resumes is not None:
        taken = ", ".join(record.resumes.steps) or "none"
        err.print(f"resumed run {record.resumes.run}: took over step(s) {taken}")
    for step in record.steps:
        if step.state.value == "failed" and not verbose and step.log:
            err.print((f"── output of {step.name} (last lines) ──", "red"))
            err.print(api.log_tail(folder, step.log))
    for artifact in record.artifacts:
        publication = artifact.publication
        if publication.state == "published":
            err.print(
                f"artifact {artifact.file_name} published as {publication.artifact_id}"
                f" (payload sha256 {artifact.payload_sha256[:16]}…)"
            )
        else:
            err.print(
                (f"artifact {artifact.file_name} waits to be published", "yellow"),
                f": {publication.error or ''}; deliver it later with `orch publish`",
                highlight=True,
            )
    if record.error is not None:
        where = f"step '{record.error.step}': " if record.error.step else ""
        err.print(
            (record.state.value, "bold red"), f" {where}{record.error.message}", highlight=True
        )
    else:
        err.print((record.state.value, "bold green"), f" run {record.run_id}", highlight=True)
    if record.rerun_of:
        err.print(f"run {record.run_id} runs {record.rerun_of} again")
    err.print(f"run folder: {folder}")
