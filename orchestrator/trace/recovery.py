"""Recording runs whose orch process died as failed.

A run is committed as ``running`` when it starts, with the host and pid of its orch process
(and the process start time, so a reused pid is not mistaken for it). The trace keeps a small
``open-runs.json`` index of runs not yet terminal, so checking for dead runs reads one blob,
not every run record.

Recovery reconciles the trace with what the run's host still holds: a run whose own final
commit failed (a full disk, say) left its final record on that host, and that record is
committed as it is; a run whose process died is committed ``failed``, after what its running
step left behind is stopped. A run that is ``running`` in the trace with no live owner is
always closed, even when nothing of it is left on the host.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Container, Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import TraceError
from orchestrator.process import host_name, process_alive, process_start_token
from orchestrator.trace.layout import RUN_RECORD, TERMINAL_STATES
from orchestrator.trace.reader import TraceReader
from orchestrator.trace.writer import TraceWriter, encode_record

__all__ = ["process_alive", "process_start_token", "recover_dead_runs"]

log = logging.getLogger("orch")
# A run whose orch process is gone is dead in these states (``waiting``: its process waited
# for a person to confirm a manual step); ``pending`` runs wait for a server, not a process.
_OWNED_STATES = frozenset({"running", "waiting"})
_OPEN_STEP_STATES = frozenset({"running", "waiting"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mark_failed(record: dict[str, Any], reason: str, *, progress_known: bool) -> dict[str, Any]:
    """``record`` closed as failed. Without the host's record of the steps' progress, steps
    still ``pending`` stay so: whether they ran is not known."""
    now = _now()
    record = dict(record)
    steps = [dict(s) if isinstance(s, dict) else s for s in record.get("steps") or []]
    running = None
    for step in steps:
        if not isinstance(step, dict):
            continue
        moves = [*(step.get("transitions") or [])]
        if step.get("state") in _OPEN_STEP_STATES:
            running = running or step.get("name")
            died = (
                "orch died while this step waited for a person"
                if step.get("state") == "waiting"
                else "orch died during this step"
            )
            step["state"] = "failed"
            step["ended_at"] = step.get("ended_at") or now
            step["error"] = step.get("error") or died
            step["transitions"] = [*moves, {"state": "failed", "at": now}]
        elif step.get("state") == "pending" and progress_known:
            step["state"] = "skipped"
            step["skipped_because"] = "orch died before this step"
            step["transitions"] = [*moves, {"state": "skipped", "at": now}]
    record["steps"] = steps
    if record.get("waiting") is not None:
        record["waiting"] = None
    record["state"] = "failed"
    record["transitions"] = [*(record.get("transitions") or []), {"state": "failed", "at": now}]
    record["ended_at"] = now
    started = record.get("started_at")
    if isinstance(started, str):
        with contextlib.suppress(ValueError):
            begun = datetime.fromisoformat(started)
            record["duration_seconds"] = round((datetime.now(UTC) - begun).total_seconds(), 3)
    record["error"] = {"step": running, "message": reason}
    return record


def _running_step(record: Mapping[str, Any]) -> str | None:
    for step in record.get("steps") or []:
        if isinstance(step, dict) and step.get("state") in _OPEN_STEP_STATES:
            name = step.get("name")
            return str(name) if name is not None else None
    return None


def recover_dead_runs(
    writer: TraceWriter,
    reader: TraceReader,
    *,
    host: str | None = None,
    fresher: Callable[[str, str], Mapping[str, bytes] | None] | None = None,
    stop: Callable[[str, str, str | None], None] | None = None,
    active: Container[str] | None = None,
) -> list[str]:
    """Close every ``running`` (or ``waiting``) run of this host whose orch process is gone.

    ``fresher(workflow, run id)`` may offer the run folder as the dead process last wrote it
    on this host (more current than its start commit: it names the step that was running, or
    holds the final record the process could not commit). ``stop(workflow, run id, step)``
    is called before a run is recorded failed, to stop what its running step left behind.
    Runs of this very process count as dead when ``active`` is given and does not name them
    (a long-lived process whose final commit of a run failed). Returns the ids of
    the runs committed (usually none, at the cost of one blob). A run that cannot be
    committed yet (the disk is still full) is left for the next command, with a warning.
    """
    host = host or host_name()
    recovered: list[str] = []
    for run_id, (workflow, _, info) in sorted(reader.open_runs().items()):
        if info.get("state") not in _OWNED_STATES or info.get("host") != host:
            continue
        pid = info.get("pid")
        if not isinstance(pid, int):
            continue
        mine = pid == os.getpid() and info.get("pid_started") == process_start_token(pid)
        if mine and active is not None:
            if run_id in active:
                continue
        elif process_alive(pid, info.get("pid_started")):
            continue
        try:
            if _close(writer, reader, workflow, run_id, pid, host, fresher, stop):
                recovered.append(run_id)
        except TraceError as exc:
            log.warning("run %s stays open in the trace for now: %s", run_id, exc)
    return recovered


def _close(
    writer: TraceWriter,
    reader: TraceReader,
    workflow: str,
    run_id: str,
    pid: int,
    host: str,
    fresher: Callable[[str, str], Mapping[str, bytes] | None] | None,
    stop: Callable[[str, str, str | None], None] | None,
) -> bool:
    local = fresher(workflow, run_id) if fresher is not None else None
    try:
        if local is not None and RUN_RECORD in local:
            record = json.loads(local[RUN_RECORD])
        else:
            record = reader.read_run(run_id)
    except (TraceError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    files = (
        dict(local)
        if local is not None
        else {path: reader.read_file(run_id, path) for path in reader.list_files(run_id)}
    )
    state = record.get("state")
    trailers = {"Orch-Recovered-By": f"{host} pid {os.getpid()}"}
    if state in TERMINAL_STATES:
        # The run ended, but its own commit of the end failed: commit what it recorded.
        writer.commit_run(
            workflow,
            run_id,
            files,
            state=str(state),
            message_title="recorded by a later orch command: the run's own final commit failed",
            trailers=trailers,
        )
        return True
    if stop is not None:
        stop(workflow, run_id, _running_step(record))
    doing = "waited for a person" if state == "waiting" else "was running"
    reason = (
        f"orch process {pid} on {host} died while the run {doing}; "
        "recorded as failed by a later orch command"
    )
    lost = fresher is not None and local is None
    if lost:
        reason += " (this host had no record of the steps' progress)"
    files[RUN_RECORD] = encode_record(_mark_failed(record, reason, progress_known=not lost))
    if "report.md" in files:
        note = f"\n\n> **Failed**: {reason}.\n"
        files["report.md"] = files["report.md"].rstrip(b"\n") + note.encode()
    writer.commit_run(
        workflow, run_id, files, state="failed", message_title=reason, trailers=trailers
    )
    return True
