"""``orch schedule``: run approved documents whose ``on.schedule`` is due."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator import api
from orchestrator.cli.errors import EXIT_COMPLETED, EXIT_FAILED

err = Console(stderr=True, soft_wrap=True)

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]


def _note(message: str) -> None:
    err.print(escape(message), highlight=False)


def schedule(
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due now and exit (for system cron).")
    ] = False,
    where: Where = Path(),
) -> None:
    """Apply approved documents whose on.schedule is due (trigger schedule)."""
    if once:
        result = api.schedule_once(where, notify=_note)
        for record in result.records:
            colour = "green" if record.state.value == "completed" else "red"
            err.print(
                f"[{colour}]{record.state.value}[/{colour}] {escape(record.workflow.id)} "
                f"run {record.run_id} for {record.trigger.cron_time}"
            )
        for problem in result.problems:
            err.print(f"[red]not run[/red] {escape(problem)}")
        if not result.records and not result.problems:
            err.print("nothing is due")
        raise typer.Exit(EXIT_COMPLETED if result.succeeded else EXIT_FAILED)
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    err.print(f"orch schedule: watching {escape(str(where.resolve()))} (stop with Ctrl-C)")
    api.schedule_forever(where, stop, notify=_note)
    err.print("orch schedule: stopped")
