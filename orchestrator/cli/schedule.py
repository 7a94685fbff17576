"""``orch schedule``: run approved documents whose ``on.schedule`` is due."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator import api
from orchestrator.cli.errors import EXIT_COMPLETED, EXIT_FAILED, EXIT_NOTHING_RAN
from orchestrator.cli.steer import log_runs
from orchestrator.errors import UsageError

err = Console(stderr=True, soft_wrap=True)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]


def _note(message: str) -> None:
    err.print(escape(message), highlight=False)


def _moment(text: str) -> datetime:
    """``--at``: an ISO 8601 time (UTC when it names no offset), not later than now."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not a time: write ISO 8601, e.g. 2026-10-25T01:00:00Z"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment < EARLIEST:
        raise UsageError(f"--at {text} is before 1970: name a time since")
    if moment > datetime.now(UTC):
        raise UsageError(
            f"--at {text} is later than now: a scheduled run is for a time that has come"
        )
    return moment


def schedule(
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due now and exit (for system cron).")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="With --once: run what was due at TIME (ISO 8601, not in the future).",
        ),
    ] = None,
    where: Where = Path(),
) -> None:
    """Apply approved documents whose on.schedule is due (trigger schedule)."""
    if at is not None and not once:
        raise UsageError("--at goes with --once: orch schedule --once --at TIME")
    log_runs(err)
    if once:
        moment = _moment(at) if at is not None else None
        result = api.schedule_once(where, moment, notify=_note)
        for record in result.records:
            colour = "green" if record.state.value == "completed" else "red"
            err.print(
                f"[{colour}]{record.state.value}[/{colour}] {escape(record.workflow.id)} "
                f"run {record.run_id} for {record.trigger.cron_time}"
            )
        for problem in result.problems:
            err.print(f"[red]not run[/red] {escape(problem)}")
        for diagnostic in result.unevaluated:
            err.print(f"[red]not scheduled:[/red] {escape(str(diagnostic))}", highlight=False)
        if result.unevaluated:
            err.print(
                "[red]a scheduled document cannot be evaluated: it never runs until it is "
                "fixed[/red]"
            )
        elif not result.records and not result.problems:
            err.print("nothing is due")
        if result.unevaluated:
            raise typer.Exit(EXIT_NOTHING_RAN)
        raise typer.Exit(EXIT_COMPLETED if result.succeeded else EXIT_FAILED)
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    err.print(f"orch schedule: watching {escape(str(where.resolve()))} (stop with Ctrl-C)")
    api.schedule_forever(where, stop, notify=_note)
    err.print("orch schedule: stopped")
