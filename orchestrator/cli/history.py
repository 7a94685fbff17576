"""``orch runs``, ``orch show``, ``orch logs``: the history, read from the trace."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator import api

out = Console(soft_wrap=True)

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]


def runs(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only this workflow.")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", "-s", help="Only runs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    where: Where = Path(),
) -> None:
    """Run history from the trace, newest first."""
    records = api.runs(where, workflow=workflow, state=state, limit=limit)
    if as_json:
        out.print_json(data=records)
        return
    table = Table(box=None, header_style="bold")
    for column in ("run", "workflow", "state", "trigger", "seconds", "by"):
        table.add_column(column, no_wrap=column != "by", overflow="ellipsis")
    for record in records:
        trigger = record.get("trigger") or {}
        duration = record.get("duration_seconds")
        table.add_row(
            record.get("run_id", ""),
            (record.get("workflow") or {}).get("id", ""),
            _state(record.get("state", "")),
            trigger.get("source", ""),
            "" if duration is None else f"{duration:.2f}",
            escape(str(trigger.get("actor", "")).split(" <")[0]),
        )
    out.print(table)


def _state(state: str) -> str:
    colours = {"completed": "green", "failed": "red", "running": "cyan", "cancelled": "magenta"}
    colour = colours.get(state, "yellow")
    return f"[{colour}]{state}[/{colour}]"


def show(
    run: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run record.")] = False,
    where: Where = Path(),
) -> None:
    """One run: steps, times, outputs, artifacts and the evidence chain."""
    shown = api.show(where, run)
    record = shown.record
    if as_json:
        out.print_json(data=record)
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
    table = Table("step", "section", "state", "attempts", "exit", "seconds", "outputs")
    for step in record.get("steps") or []:
        outputs = ", ".join(f"{k}={v}" for k, v in (step.get("outputs") or {}).items())
        table.add_row(
            step.get("name", ""),
            escape(step.get("section", "")),
            _state(step.get("state", "")),
            str(step.get("attempts", "")),
            "" if step.get("exit_code") is None else str(step["exit_code"]),
            _seconds(step),
            escape(outputs),
        )
    out.print(table)
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
    out.print(f"  inputs    {record.get('inputs_digest')}")
    for artifact in record.get("artifacts") or []:
        out.print(_artifact_line(artifact))
    out.print(f"  trace     {shown.trace}")


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
    """The stored logs of a run's steps (secrets masked)."""
    if follow:
        from orchestrator.cli.steer import follow as follow_run

        follow_run(where, run, step)
        return
    for name, text in api.logs(where, run, step):
        if step is None:
            out.print(f"[bold]── {escape(name)} ──[/bold]")
        out.print(text, end="" if text.endswith("\n") else "\n", markup=False, highlight=False)


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
