"""Closing runs whose orch process died, from what this host still holds of them.

The trace says which runs are open and who owns them; the run folder under ``.orch/runs/``
says how far each got: the journal of step changes and step processes, and the final record
a run kept when it could not commit it (see ``recording_runs``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.api.recording_runs import (
    ACTIVE_RUNS,
    JOURNAL,
    RESERVE,
    folder_files,
    trace_reader,
    trace_writer,
)
from orchestrator.api.workspace import DocumentHome
from orchestrator.errors import TraceError
from orchestrator.process import host_name
from orchestrator.trace import encode_record
from orchestrator.trace.recovery import recover_dead_runs

log = logging.getLogger("orch")


def recover(place: DocumentHome) -> list[str]:
    """Close the open runs of this host whose orch process is gone; their ids."""
    if place.in_repository and not _has_trace(place):
        return []
    runs_folder = place.settings.state_dir / "runs"

    def local_folder(workflow: str, run_id: str) -> dict[str, bytes] | None:
        return replay_journal(runs_folder / workflow / run_id)

    recovered = recover_dead_runs(
        trace_writer(place),
        trace_reader(place),
        host=host_name(),
        fresher=local_folder,
        stop=stop_function(runs_folder),
        active=frozenset(ACTIVE_RUNS),
    )
    for run_id in recovered:
        for reserved in runs_folder.glob(f"*/{run_id}/{RESERVE}"):
            reserved.unlink(missing_ok=True)  # the record it kept is in the trace now
    return recovered


def _has_trace(place: DocumentHome) -> bool:
    try:
        return trace_reader(place).tip_ref() is not None
    except TraceError:
        return False


def _read_reserve(folder: Path) -> tuple[dict[str, Any], str] | None:
    """The final record a run kept in its reserved space, and why it was not committed."""
    try:
        data = json.loads((folder / RESERVE).read_bytes() or b"null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("record"), dict):
        return None
    return data["record"], str(data.get("unrecorded_because") or "")


def replay_journal(folder: Path) -> dict[str, bytes] | None:
    """The run folder as a dead run left it: its final record when it kept one that could not
    be committed, else ``run.json`` with the journal's step changes replayed into it."""
    kept = _read_reserve(folder)
    record = replayed_record(folder, kept)
    if record is None:
        return None
    try:
        files = folder_files(folder)
    except OSError:
        return None
    files["run.json"] = encode_record(record)
    if kept is not None:
        reason = kept[1] or "the trace could not be written"
        note = (
            f"\n\n> **Recorded late**: the run's own commit of its end failed ({reason}); "
            "a later orch command recorded it.\n"
        )
        report_text = files.get("report.md", b"").rstrip(b"\n")
        files["report.md"] = report_text + note.encode()
    return files


def replayed_record(
    folder: Path, kept: tuple[dict[str, Any], str] | None = None
) -> dict[str, Any] | None:
    """The run's record as this host holds it: the final record it kept when its commit
    failed (``kept``), else ``run.json`` with the journal's step changes replayed into it."""
    if kept is not None:
        return kept[0]
    try:
        record = json.loads((folder / "run.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    steps = {step.get("name"): step for step in record.get("steps") or [] if isinstance(step, dict)}
    for change in _journal_entries(folder):
        if change.get("name") in steps:
            steps[change["name"]].update(change)
    return record


def journal_processes(folder: Path, step: str) -> list[tuple[int, str | None]]:
    """The process groups the journal noted for ``step``: (group id, leader start token)."""
    groups: list[tuple[int, str | None]] = []
    for entry in _journal_entries(folder):
        process = entry.get("process")
        if isinstance(process, dict) and process.get("step") == step:
            pgid, started = process.get("pgid"), process.get("started")
            if isinstance(pgid, int) and pgid > 1:
                groups.append((pgid, str(started) if started is not None else None))
    return groups


def _journal_entries(folder: Path) -> list[dict[str, Any]]:
    try:
        lines = (folder / JOURNAL).read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by the crash
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def stop_function(runs_folder: Path) -> Callable[[str, str, str | None], None]:
    """What recovery calls before recording a dead run failed: stops its running step's
    processes (the recorded groups, and whatever carries the run's and step's markers)."""
    from orchestrator.process import stop_leftovers

    def stop(workflow: str, run_id: str, step: str | None) -> None:
        if step is None:
            return  # no step was running: nothing of the run can still be running
        groups = journal_processes(runs_folder / workflow / run_id, step)
        stopped = stop_leftovers(groups, {"ORCH_RUN_ID": run_id, "ORCH_STEP": step})
        if stopped:
            log.warning(
                "stopped %d process(es) that step '%s' of dead run %s left running: %s",
                len(stopped),
                step,
                run_id,
                " ".join(map(str, stopped)),
            )

    return stop
