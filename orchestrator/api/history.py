"""Reading the run history from the trace: ``orch runs``, ``orch show``, ``orch logs``."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.api.recording import (
    replay_journal,
    trace_reader,
    trace_repository,
    trace_writer,
)
from orchestrator.api.workspace import Place, locate
from orchestrator.errors import TraceError
from orchestrator.trace.recovery import recover_dead_runs


def recover(place: Place) -> list[str]:
    """Record as failed the runs of this host whose orch process died; their ids."""
    if place.in_repository and not _has_trace(place):
        return []
    runs_folder = place.settings.state_dir / "runs"

    def local_folder(workflow: str, run_id: str) -> dict[str, bytes] | None:
        return replay_journal(runs_folder / workflow / run_id)

    return recover_dead_runs(
        trace_writer(place), trace_reader(place), host=socket.gethostname(), fresher=local_folder
    )


def _shared(place: Place) -> Place:
    """With a broker, runs are recorded by workers on other hosts: read the shared trace."""
    if place.settings.broker_url:
        from orchestrator.api import remote_view

        remote_view.refresh(place)
    return place


def _has_trace(place: Place) -> bool:
    try:
        return trace_reader(place).tip_ref() is not None
    except TraceError:
        return False


def runs(
    where: Path,
    *,
    workflow: str | None = None,
    state: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    place = _shared(locate(where))
    recover(place)
    records = trace_reader(place).list_runs(workflow=workflow, state=state, limit=limit)
    if place.settings.broker_url:
        from orchestrator.api import remote_view

        remote_view.note_waiting(place, records)
    return records


@dataclass(frozen=True)
class Shown:
    record: dict[str, Any]
    files: list[str]
    trace: Path


def show(where: Path, run: str) -> Shown:
    place = _shared(locate(where))
    recover(place)
    reader = trace_reader(place)
    return Shown(
        record=reader.read_run(run), files=reader.list_files(run), trace=trace_repository(place)
    )


def logs(where: Path, run: str, step: str | None = None) -> list[tuple[str, str]]:
    """``(step name, log text)`` of a run's steps, or of one step."""
    place = _shared(locate(where))
    reader = trace_reader(place)
    record = reader.read_run(run)
    found: list[tuple[str, str]] = []
    for entry in record.get("steps") or []:
        name, log = entry.get("name"), entry.get("log")
        if step is not None and name != step:
            continue
        if not log or log not in reader.list_files(run):
            continue
        found.append((name, reader.read_file(run, log).decode("utf-8", errors="replace")))
    if step is not None and not found:
        names = ", ".join(str(e.get("name")) for e in record.get("steps") or [])
        raise TraceError(f"run {record.get('run_id')} has no log for step {step!r}; steps: {names}")
    return found
