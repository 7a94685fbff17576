"""``orch worker``, ``orch workers`` and ``orch apply --queue``: distributed runs from the
command line. Options are parsed here; the work is in ``orchestrator.worker`` and
``orchestrator.api.dispatch``, imported only when these commands run (Celery is slow to
import, and no other command should pay for it)."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator import api
from orchestrator.errors import UsageError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        help="The broker (Redis URL); default ORCH_BROKER_URL or the setting 'broker'.",
        show_default=False,
    ),
]


def worker(
    repo: Annotated[
        list[str],
        typer.Option(
            "--repo", help="The shared repository (remote URL or path) it clones (repeatable)."
        ),
    ],
    labels: Annotated[
        str, typer.Option("--labels", help="Comma-separated labels: the runs_on it serves.")
    ] = "",
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs executed at the same time.")
    ] = 2,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Node name (name@host; default orch@<this host>)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where its clones live (default ~/.local/share/orch/worker)."
        ),
    ] = None,
    lost_after: Annotated[
        float,
        typer.Option(
            "--lost-after",
            min=1.0,
            envvar="ORCH_WORKER_LOST_AFTER",
            help="Seconds within which a run of a dead worker is recorded failed.",
        ),
    ] = 60.0,
    broker: BrokerOption = None,
    log_level: Annotated[str, typer.Option("--log-level", help="Celery's log level.")] = "INFO",
) -> None:
    """Run the runs sent to the broker (a Celery worker; stop it with SIGTERM)."""
    from orchestrator.broker.routing import split_labels
    from orchestrator.worker.runtime import WorkerOptions
    from orchestrator.worker.start import run_worker

    options = WorkerOptions(
        broker_url=_broker(broker),
        repos=tuple(repo),
        labels=split_labels(labels),
        concurrency=concurrency,
        data_dir=data_dir.resolve() if data_dir else None,
        name=name,
        lost_after=lost_after,
        log_level=log_level.upper(),
    )
    run_worker(options)


def _broker(given: str | None) -> str:
    if given:
        return given
    from orchestrator.api.workspace import locate

    url = locate(Path()).settings.broker_url  # ORCH_BROKER_URL, else the configuration
    if not url:
        raise UsageError(
            "no broker is configured: pass --broker or set ORCH_BROKER_URL (or 'broker' in "
            "orch's configuration)"
        )
    return url


def workers(
    broker: BrokerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    where: Annotated[
        Path, typer.Option("--repo", "-C", help="The repository whose settings name the broker.")
    ] = Path(),
) -> None:
    """The workers of the broker: host, labels, running runs, last heartbeat."""
    from orchestrator.api.remote_view import workers as registry

    name, entries = registry(where, broker)
    now = time.time()
    if as_json:
        rows = [{**e.to_json(), "status": e.status(now)} for e in entries]
        out.print_json(data=rows)
        return
    if not entries:
        err.print(f"no worker has registered with the broker {escape(name)}")
        return
    table = Table(box=None, header_style="bold")
    for column in ("worker", "host", "status", "labels", "running", "heartbeat"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        status = entry.status(now)
        colour = {"alive": "green", "lost": "red"}.get(status, "yellow")
        running = ", ".join(f"{r.get('workflow')}/{r.get('run')}" for r in entry.running)
        table.add_row(
            escape(entry.name),
            escape(entry.host),
            f"[{colour}]{status}[/{colour}]",
            escape(", ".join(entry.labels) or "-"),
            escape(running or "-"),
            f"{max(now - entry.heartbeat, 0):.0f} s ago",
        )
    out.print(table)


def queue_apply(request: api.RunRequest) -> None:
    """``orch apply --queue``: send the run to the workers and say how to follow it."""
    from orchestrator.api.dispatch import queue_request

    sent = queue_request(request)
    queued = sent.queued
    err.print(
        f"queued run {queued.run_id} of {escape(queued.workflow_id)} for the workers "
        f"(queue {sent.queue}, number {sent.sequence} of its workflow); "
        f"follow it with: orch show {queued.run_id}",
        highlight=False,
    )


def waiting_notes(records: list[dict[str, Any]]) -> None:
    """Under ``orch runs``: what each pending run sent to the broker waits for."""
    for record in records:
        if record.get("waiting"):
            out.print(f"{record.get('run_id')} {escape(str(record['waiting']))}", highlight=False)


def placement_line(record: dict[str, Any]) -> str | None:
    """For ``orch show``: the worker that ran a run sent to the broker."""
    placement = record.get("placement")
    if not isinstance(placement, dict):
        return None
    labels = ", ".join(placement.get("labels") or []) or "none"
    if not placement.get("worker"):
        return f"  worker    not started yet (labels {escape(labels)})"
    return (
        f"  worker    {escape(str(placement.get('worker')))} on host "
        f"{escape(str(placement.get('host')))} (labels {escape(labels)}, number "
        f"{placement.get('sequence')} of its workflow, fencing token "
        f"{placement.get('fencing_token')})"
    )
