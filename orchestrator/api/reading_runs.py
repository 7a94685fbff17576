"""Reading recorded runs from the trace: ``orch runs``, ``orch show``, ``orch logs``.

Writing them, as a run goes, is ``recording_runs``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.api.recording_runs import trace_reader, trace_repository
from orchestrator.api.recovering import recover as recover  # the api name for it
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.errors import TraceError


def _shared(place: DocumentHome) -> DocumentHome:
    """With a broker, runs are recorded by workers on other hosts: read the shared trace."""
    if place.settings.broker_url:
        from orchestrator.api import remote_view

        remote_view.refresh(place)
    return place


def runs(
    where: Path,
    *,
    workflow: str | None = None,
    state: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    return list(iter_runs(where, workflow=workflow, state=state, limit=limit))


def iter_runs(
    where: Path,
    *,
    workflow: str | None = None,
    state: str | None = None,
    limit: int = 20,
) -> Iterator[dict[str, Any]]:
    """Run records, newest first, each read from the trace only when it is asked for."""
    place = _shared(locate(where))
    recover(place)
    records = trace_reader(place).iter_runs(workflow=workflow, state=state, limit=limit)
    if not place.settings.broker_url:
        return records
    from orchestrator.api import remote_view

    listed = list(records)
    remote_view.note_waiting(place, listed)
    return iter(listed)


@dataclass(frozen=True)
class RunDetails:
    record: dict[str, Any]
    files: list[str]
    trace: Path


def show(where: Path, run: str | None = None) -> RunDetails:
    """One run by id or unique prefix; the latest run when ``run`` is None."""
    place = _shared(locate(where))
    recover(place)
    reader = trace_reader(place)
    if run is None:
        run = reader.latest_run_id()
        if run is None:
            raise TraceError(
                f"no run is recorded in the trace of {trace_repository(place)} yet; "
                "run a document with `orch apply`"
            )
    return RunDetails(
        record=reader.read_run(run), files=reader.list_files(run), trace=trace_repository(place)
    )


@dataclass(frozen=True)
class StepLog:
    """A step's stored log (None when it has none) and its entry of ``run.json``."""

    name: str
    text: str | None
    record: dict[str, Any]


def step_logs(where: Path, run: str, step: str | None = None) -> list[StepLog]:
    """The logs of a run's steps, or of one step; a failed step is there even without a log,
    so that its reason can be shown."""
    reader = trace_reader(_shared(locate(where)))
    record = reader.read_run(run)
    files = set(reader.list_files(run))
    found: list[StepLog] = []
    for entry in record.get("steps") or []:
        name, log = str(entry.get("name")), entry.get("log")
        if step is not None and name != step:
            continue
        text = None
        if log and log in files:
            text = reader.read_file(run, log).decode("utf-8", errors="replace")
        elif entry.get("state") != "failed":
            continue
        found.append(StepLog(name, text, entry))
    if step is not None and not found:
        raise _no_log(record, step)
    return found


def logs(where: Path, run: str, step: str | None = None) -> list[tuple[str, str]]:
    """``(step name, log text)`` of a run's steps with a stored log, or of one step."""
    found = [(s.name, s.text) for s in step_logs(where, run, step) if s.text is not None]
    if step is not None and not found:
        raise _no_log(trace_reader(locate(where)).read_run(run), step)
    return found


def _no_log(record: dict[str, Any], step: str) -> TraceError:
    names = ", ".join(str(e.get("name")) for e in record.get("steps") or [])
    return TraceError(f"run {record.get('run_id')} has no log for step {step!r}; steps: {names}")
