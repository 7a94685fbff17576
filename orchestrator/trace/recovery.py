"""Recording runs whose orch process died as failed.

A run is committed as ``running`` when it starts, with the host and pid of its orch process
(and the process start time, so a reused pid is not mistaken for it). The trace keeps a small
``open-runs.json`` index of runs not yet terminal, so checking for dead runs reads one blob,
not every run record.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.errors import TraceError
from orchestrator.trace.layout import RUN_RECORD
from orchestrator.trace.reader import TraceReader
from orchestrator.trace.writer import TraceWriter, encode_record


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return text[text.rfind(")") + 2 :].split()


def process_start_token(pid: int) -> str | None:
    """A token that differs between two processes that had the same pid (Linux start time)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def process_alive(pid: int, start_token: str | None = None) -> bool:
    """True when process ``pid`` (started at ``start_token``, if given) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return True
    if fields[0] in {"Z", "X"}:
        return False
    return not (start_token and len(fields) > 19 and fields[19] != str(start_token))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mark_failed(record: dict[str, Any], reason: str) -> dict[str, Any]:
    now = _now()
    record = dict(record)
    steps = [dict(s) if isinstance(s, dict) else s for s in record.get("steps") or []]
    running = None
    for step in steps:
        if isinstance(step, dict) and step.get("state") == "running":
            running = running or step.get("name")
            step["state"] = "failed"
            step.setdefault("ended_at", now)
            step["ended_at"] = step["ended_at"] or now
    record["steps"] = steps
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


def recover_dead_runs(
    writer: TraceWriter,
    reader: TraceReader,
    *,
    host: str | None = None,
    fresher: Callable[[str, str], Mapping[str, bytes] | None] | None = None,
) -> list[str]:
    """Commit as failed every ``running`` run of this host whose orch process is gone.

    ``fresher(workflow, run id)`` may offer the run folder as the dead process last wrote it
    on this host (more current than its start commit: it names the step that was running).
    Returns the ids of the runs recorded as failed (usually none, at the cost of one blob).
    """
    host = host or socket.gethostname()
    recovered: list[str] = []
    for run_id, (workflow, _, info) in sorted(reader.open_runs().items()):
        if info.get("state") != "running" or info.get("host") != host:
            continue
        pid = info.get("pid")
        if not isinstance(pid, int) or process_alive(pid, info.get("pid_started")):
            continue
        local = fresher(workflow, run_id) if fresher is not None else None
        try:
            if local is not None and RUN_RECORD in local:
                record = json.loads(local[RUN_RECORD])
            else:
                record = reader.read_run(run_id)
        except (TraceError, ValueError):
            continue
        if record.get("state") != "running":
            continue
        reason = (
            f"orch process {pid} on {host} died while the run was running; "
            "recorded as failed by a later orch command"
        )
        files = (
            dict(local)
            if local is not None
            else {path: reader.read_file(run_id, path) for path in reader.list_files(run_id)}
        )
        files[RUN_RECORD] = encode_record(_mark_failed(record, reason))
        if "report.md" in files:
            note = f"\n\n> **Failed**: {reason}.\n"
            files["report.md"] = files["report.md"].rstrip(b"\n") + note.encode()
        writer.commit_run(
            workflow,
            run_id,
            files,
            state="failed",
            message_title=reason,
            trailers={"Orch-Recovered-By": f"{host} pid {os.getpid()}"},
        )
        recovered.append(run_id)
    return recovered
