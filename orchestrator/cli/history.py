"""``orch runs``, ``orch show``, ``orch logs``: the history, read from the trace."""

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from orchestrator import api
from orchestrator.cli import tables
from orchestrator.cli.worker import placement_line, waiting_notes

out = Console(soft_wrap=True)

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]

# `orch runs` columns; when the terminal is narrow, they are dropped from the last rank up.
RUN_COLUMNS = (
    tables.Column("run", rank=0),
    tables.Column("workflow", rank=2, shrink=True, min_width=20),
    tables.Column("state", rank=1),
    tables.Column("trigger", rank=3),
    tables.Column("seconds", rank=4, right=True),
    tables.Column("by", rank=5, shrink=True, min_width=16),
)
# `orch show` columns of the steps table.
STEP_COLUMNS = (
    tables.Column("step", rank=0, shrink=True, min_width=16),
    tables.Column("section", rank=4, shrink=True, min_width=12),
    tables.Column("state", rank=1),
    tables.Column("attempts", rank=5, right=True),
    tables.Column("exit", rank=2, right=True),
    tables.Column("seconds", rank=3, right=True),
    tables.Column("outputs", rank=6, shrink=True, min_width=16),
)
_COLOURS = {"completed": "green", "failed": "red", "running": "cyan", "cancelled": "magenta"}


def runs(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only this workflow.")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", "-s", help="Only runs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of run records.")
    ] = False,
    where: Where = Path(),
) -> None:
    """Run history from the trace, newest first."""
    records = api.iter_runs(where, workflow=workflow, state=state, limit=limit)
    if as_json:
        _stream_json(records)
        return
    listed = list(records)
    if not listed:
        filtered = workflow is not None or state is not None
        out.print("no run matches" if filtered else "no run is recorded in the trace yet")
        return
    out.print(tables.render(RUN_COLUMNS, [_run_row(record) for record in listed], out.width))
    waiting_notes(listed)


def _stream_json(records: Iterable[dict[str, Any]]) -> None:
    """A JSON array written record by record, as the trace is read: one record per line."""
    write = sys.stdout.write
    separator = "[\n"
    for record in records:
        write(separator + json.dumps(record, ensure_ascii=False))
        separator = ",\n"
    write("[]\n" if separator == "[\n" else "\n]\n")


def _run_row(record: dict[str, Any]) -> list[tables.Cell]:
    trigger = record.get("trigger") or {}
    duration = record.get("duration_seconds")
    state = str(record.get("state", ""))
    return [
        tables.Cell(str(record.get("run_id", ""))),
        tables.Cell(str((record.get("workflow") or {}).get("id", ""))),
        tables.Cell(state, _COLOURS.get(state, "yellow")),
        tables.Cell(str(trigger.get("source", ""))),
        tables.Cell("" if duration is None else f"{duration:.2f}"),
        tables.Cell(str(trigger.get("actor", "")).split(" <")[0]),
    ]


def _state(state: str) -> str:
    colour = _COLOURS.get(state, "yellow")
    return f"[{colour}]{state}[/{colour}]"


def show(
    run: Annotated[
        str | None,
        typer.Argument(help="A run id, or a unique prefix of one (default: the latest run)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run record.")] = False,
    where: Where = Path(),
) -> None:
    """One run: steps, times, outputs, artifacts and the evidence chain."""
    shown = api.show(where, run)
    record = shown.record
    if as_json:
        sys.stdout.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        return
    workflow, document = record.get("workflow") or {}, record.get("document") or {}
    trigger = record.get("trigger") or {}
    out.print(f"[bold]{escape(workflow.get('title', ''))}[/bold] ({workflow.get('id')})")
    out.print(f"run {record.get('run_id')}: {_state(record.get('state', ''))}")
    from orchestrator.cli.steer import show_steering

    show_steering(record)
    if record.get("error"):
        error = record["error"]
        out.print(
            f"[red]error[/red] in step {error.get('step')}: {escape(error.get('message', ''))}"
        )
    steps = record.get("steps") or []
    table = tables.render(STEP_COLUMNS, [_step_row(step) for step in steps], out.width)
    header, *lines = table.split("\n")
    out.print(header)
    for step, line in zip(steps, lines, strict=True):
        out.print(line)
        reason = failure_reason(step)
        if reason is not None:
            out.print(Text(f"  └ {reason}", style="red"))
        elif step.get("state") == "skipped" and step.get("skipped_because"):
            out.print(Text(f"  └ skipped: {step['skipped_because']}", style="yellow"))
    out.print("[bold]Evidence chain[/bold]")
    out.print(
        f"  document  {escape(str(document.get('path')))} at commit {document.get('commit')} "
        f"(blob {document.get('blob')}{', uncommitted changes' if document.get('dirty') else ''})"
    )
    out.print(
        f"  run       {record.get('run_id')}, trigger {trigger.get('source')} by "
        f"{escape(str(trigger.get('actor')))} on {trigger.get('host')}, "
        f"{record.get('started_at')} → {record.get('ended_at')}"
    )
    placement = placement_line(record)
    if placement:
        out.print(placement, highlight=False)
    out.print(f"  inputs    {record.get('inputs_digest')}")
    for artifact in record.get("artifacts") or []:
        out.print(_artifact_line(artifact))
    out.print(f"  trace     {shown.trace}")


def failure_reason(step: dict[str, Any]) -> str | None:
    """Why a step failed, as its record says (timeout, exit code, signal, health check)."""
    if step.get("state") != "failed":
        return None
    reason = str(step.get("error") or "failed")
    return (
        f"{reason} (continue_on_error: the run went on)"
        if step.get("continued_on_error")
        else reason
    )


def _step_row(step: dict[str, Any]) -> list[tables.Cell]:
    outputs = ", ".join(f"{k}={v}" for k, v in (step.get("outputs") or {}).items())
    state = str(step.get("state", ""))
    return [
        tables.Cell(str(step.get("name", ""))),
        tables.Cell(str(step.get("section", ""))),
        tables.Cell(state, _COLOURS.get(state, "yellow")),
        tables.Cell(str(step.get("attempts", ""))),
        tables.Cell("" if step.get("exit_code") is None else str(step["exit_code"])),
        tables.Cell(_seconds(step)),
        tables.Cell(outputs),
    ]


def _artifact_line(artifact: dict[str, Any]) -> str:
    publication = artifact.get("publication") or {}
    where = publication.get("artifact_id") or publication.get("state")
    line = (
        f"  artifact  {escape(str(artifact.get('file_name')))} ({artifact.get('type')}) "
        f"sha256 {artifact.get('sha256')} payload {artifact.get('payload_sha256')} "
        f"→ {where} {publication.get('url') or publication.get('storage_path') or ''}"
    )
    if publication.get("state") != "published" and publication.get("error"):
        reason = escape(str(publication["error"]))
        line = f"{line.rstrip()}\n            {publication['state']}: {reason}"
    return line


def _seconds(step: dict[str, Any]) -> str:
    start, end = step.get("started_at"), step.get("ended_at")
    if not start or not end:
        return ""
    elapsed = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return f"{elapsed.total_seconds():.2f}"


def logs(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
    step: Annotated[str | None, typer.Argument(help="Only this step.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow a running run until it ends.")
    ] = False,
    where: Where = Path(),
) -> None:
    """The stored logs of a run's steps (secrets masked); a failed step's reason after it."""
    if follow:
        from orchestrator.cli.steer import follow as follow_run

        follow_run(where, run, step)
        return
    for found in api.step_logs(where, run, step):
        if step is None:
            out.print(f"[bold]── {escape(found.name)} ──[/bold]")
        text = found.text or ""
        if text:
            end = "" if text.endswith("\n") else "\n"
            out.print(text, end=end, markup=False, highlight=False)
        reason = failure_reason(found.record)
        if reason is not None:
            out.print(Text(f"── {found.name} failed: {reason} ──", style="bold red"))


def publish(where: Where = Path()) -> None:
    """Publish the artifacts still waiting in the outbox (after DropBoxMini was unreachable).

    Exit 0 when all were delivered, 3 when some still wait, 1 when a package was refused
    because its bytes are not the ones its run recorded.
    """
    deliveries = api.publish_pending(where)
    if not deliveries:
        out.print("nothing waits in the outbox")
        return
    failed = refused = False
    for delivery in deliveries:
        label = f"{delivery.workflow_id}/{delivery.run_id} {escape(delivery.package)}"
        if delivery.publication is not None and delivery.publication.state == "published":
            out.print(f"[green]published[/green] {label} as {delivery.publication.artifact_id}")
        elif delivery.refused:
            refused = True
            reason = delivery.publication and delivery.publication.error
            out.print(f"[red]refused[/red] {label}: {escape(str(reason))}")
        else:
            failed = True
            reason = delivery.error or (delivery.publication and delivery.publication.error)
            out.print(f"[yellow]still waiting[/yellow] {label}: {escape(str(reason))}")
    if refused:
        raise typer.Exit(1)
    if failed:
        raise typer.Exit(3)
