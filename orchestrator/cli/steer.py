"""Steering runs: ``orch confirm``, ``orch cancel``, ``orch rerun``, ``orch apply --resume``
and ``orch logs -f`` (following a run's output while it runs)."""

import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator import api
from orchestrator.cli.errors import (
    EXIT_FAILED,
)
from orchestrator.cli.options import AllowDraftOption, ConfirmOption, RunJsonOption, VerboseOption
from orchestrator.errors import UsageError
from orchestrator.model import RunState

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]
RunArgument = Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")]
# How often ``orch logs -f`` looks at a run in progress: on this host, and in the trace.
FOLLOW_LOCAL_SECONDS = 0.2
FOLLOW_TRACE_SECONDS = 1.0


def confirm(
    run: RunArgument,
    step: Annotated[
        str | None, typer.Argument(help="The waiting step (default: the one it waits at).")
    ] = None,
    where: Where = Path(),
) -> None:
    """Confirm the manual step a waiting run waits at; the run goes on."""
    answered = api.confirm(where, run, step)
    out.print(
        f"run {answered.run_id}: step '{escape(str(answered.step))}' confirmed by "
        f"{escape(answered.by)}; the run is {answered.state}",
        highlight=False,
    )


def cancel(run: RunArgument, where: Where = Path()) -> None:
    """Cancel a queued, running or waiting run: its running step's processes are stopped,
    its cleanup steps (if: always(), cancelled()) still run; cancel again to stop those."""
    answered = api.cancel(where, run)
    if answered.state == RunState.PENDING.value:
        out.print(
            f"run {answered.run_id} is queued: it is recorded cancelled when it would start, "
            "and nothing of it runs",
            highlight=False,
        )
        return
    if answered.cleanup:
        names = ", ".join(f"'{escape(name)}'" for name in answered.cleanup)
        one = len(answered.cleanup) == 1
        running = f"step {names} runs" if one else f"steps {names} run"
        out.print(
            f"run {answered.run_id} is cancelled (by {escape(answered.by)}); its cleanup "
            f"{running} all the same: orch cancel {answered.run_id} again stops "
            f"{'it' if one else 'them'}",
            highlight=False,
        )
        return
    error = answered.record.get("error") or {}
    why = f" ({escape(str(error.get('message')))})" if error.get("message") else ""
    out.print(f"run {answered.run_id} {answered.state}{why}", highlight=False)
    if answered.state != RunState.CANCELLED.value:
        raise typer.Exit(EXIT_FAILED)


InputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        "-i",
        metavar="NAME=VALUE",
        help="A secret input the run needs again (repeatable; or ORCH_INPUT_<NAME>).",
    ),
]


def rerun(
    run: RunArgument,
    current: Annotated[
        bool, typer.Option("--current", help="Run the working copy's document instead.")
    ] = False,
    inputs: InputOption = None,
    allow_draft: AllowDraftOption = False,
    confirm: ConfirmOption = None,
    verbose: VerboseOption = False,
    as_json: RunJsonOption = False,
    where: Where = Path(),
) -> None:
    """Run a recorded run again: the same document revision and inputs (a new run)."""
    interactive = sys.stdin.isatty()
    with api.prepared_again(
        where,
        run,
        current=current,
        pairs=tuple(inputs or ()),
        confirmed=frozenset(confirm or ()),
        allow_draft=allow_draft,
        interactive=interactive,
    ) as prepared:
        _run(prepared, verbose=verbose, as_json=as_json, interactive=interactive)


def resume(
    run: str,
    document: Path | None,
    *,
    inputs: list[str] | None,
    inputs_file: Path | None,
    allow_draft: bool,
    confirm: list[str] | None,
    force: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """``orch apply [DOC] --resume RUN``: from the step where RUN stopped."""
    if inputs_file is not None:
        raise UsageError(
            "--inputs does not go with --resume: a resumed run takes the inputs its run "
            "recorded (give secret ones again with -i NAME=VALUE)"
        )
    interactive = sys.stdin.isatty()
    with api.prepared_again(
        Path(),
        run,
        document_path=document,
        resume=True,
        force=force,
        pairs=tuple(inputs or ()),
        confirmed=frozenset(confirm or ()),
        allow_draft=allow_draft,
        interactive=interactive,
    ) as prepared:
        _run(prepared, verbose=verbose, as_json=as_json, interactive=interactive)


def _run(prepared: api.Prepared, *, verbose: bool, as_json: bool, interactive: bool) -> None:
    from orchestrator.cli.applying import run_here
    from orchestrator.cli.output import Output

    code = run_here(prepared, Output(), verbose=verbose, as_json=as_json, interactive=interactive)
    raise typer.Exit(code)


def follow(where: Path, run: str, step: str | None) -> None:
    """``orch logs -f``: print what the run's steps print, as they print it, until it ends."""
    watch = api.watch(where, run, step=step)
    shown: set[str] = set()
    state = "?"
    while True:
        for event in watch.poll():
            data = event.data
            if event.kind == "log":
                name = str(data["step"])
                if step is None and name not in shown:
                    out.print(f"[bold]── {escape(name)} ──[/bold]")
                shown.add(name)
                out.print(str(data["text"]), end="", markup=False, highlight=False)
            elif event.kind == "state":
                state = str(data["state"])
                waiting = data.get("waiting")
                if state == RunState.WAITING.value and isinstance(waiting, dict):
                    err.print(
                        f"run {watch.run_id} waits for a person at step "
                        f"'{escape(str(waiting.get('step')))}': orch confirm {watch.run_id}",
                        highlight=False,
                    )
        out.file.flush()
        if watch.ended:
            break
        time.sleep(FOLLOW_LOCAL_SECONDS if watch.local else FOLLOW_TRACE_SECONDS)
    err.print(f"run {watch.run_id} {state}", highlight=False)


def show_steering(record: dict[str, Any]) -> None:
    """``orch show``'s lines for what a person can do or did: a waiting run's step and
    instruction, the run it runs again or resumes, who cancelled it."""
    run_id = record.get("run_id")
    waiting = record.get("waiting")
    if isinstance(waiting, dict):
        step = escape(str(waiting.get("step")))
        out.print(
            f"[yellow]waits for a person[/yellow] at step {step} until {waiting.get('until')}:",
            highlight=False,
        )
        out.print(f"  {escape(str(waiting.get('instruction') or ''))}", highlight=False)
        out.print(f"  orch confirm {run_id} {step}  ·  orch cancel {run_id}", highlight=False)
    if record.get("rerun_of"):
        out.print(f"runs again run {record['rerun_of']}", highlight=False)
    resumes = record.get("resumes")
    if isinstance(resumes, dict):
        taken = ", ".join(str(name) for name in resumes.get("steps") or []) or "none"
        forced = " (with --force: steps that changed too)" if resumes.get("forced") else ""
        out.print(
            f"resumes run {resumes.get('run')}, taking over step(s) {escape(taken)}{forced}",
            highlight=False,
        )
    cancelled = record.get("cancelled")
    if isinstance(cancelled, dict):
        out.print(
            f"cancelled by {escape(str(cancelled.get('by')))} at {cancelled.get('at')}",
            highlight=False,
        )


class _RunLines(logging.Handler):
    """Prints what the core says about runs (queued, started, waiting, ended) at INFO; its
    warnings are printed by the command line's own handler already."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self._console = console
        self.addFilter(lambda record: record.levelno < logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        moment = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._console.print(
            f"INFO:     {moment} orch: {record.getMessage()}", markup=False, highlight=False
        )


def log_runs(console: Console) -> None:
    """``orch serve`` and ``orch schedule``: a line for each run queued, started and ended."""
    logger = logging.getLogger("orch")
    if not any(isinstance(handler, _RunLines) for handler in logger.handlers):
        logger.addHandler(_RunLines(console))
    logger.setLevel(logging.INFO)
