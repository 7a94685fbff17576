"""Recording a lost worker's run ``failed`` in the shared trace, and never running it again.

The run keeps what its worker last pushed (the ``running`` record with its steps); steps
still running are marked failed, and the error names the worker, its host and its fencing
token. A run the trace already shows finished (its worker pushed the end, then died before
telling the broker) is left as it is.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.api.recording_runs import trace_reader, trace_writer
from orchestrator.api.workspace import locate
from orchestrator.broker.message import BadMessage, RunMessage
from orchestrator.errors import OrchError
from orchestrator.trace import encode_record, shared
from orchestrator.worker.execute import TERMINAL, run_environment
from orchestrator.worker.runtime import Runtime

log = logging.getLogger("orch.worker")


def reason_for(entry: dict[str, Any], state: str, recorder: str) -> str:
    if entry.get("reason"):
        return str(entry["reason"])
    return (
        f"worker lost: {entry.get('worker')} on host {entry.get('host')} stopped renewing its "
        f"lease (fencing token {entry.get('token')}) while the run was {state}; recorded as "
        f"failed by {recorder}. orch does not start it again: submit it again if it should run"
    )


def record_lost(runtime: Runtime, run_id: str, entry: dict[str, Any]) -> bool:
    """Record one lost run ``failed``; True when done (or nothing was left to do)."""
    try:
        message = RunMessage.from_json(json.loads(str(entry.get("message") or "null")))
    except (BadMessage, ValueError) as exc:
        log.error("lost run %s cannot be recorded: %s", run_id, exc)
        runtime.ledger.recorded(run_id)
        return True
    clone = runtime.clone_for(message.repo)
    if clone is None:
        return False  # a worker that serves the repository records it
    try:
        done = _record(runtime, clone, message, entry)
    except OrchError as exc:
        log.warning("lost run %s not recorded yet (tried again later): %s", run_id, exc)
        return False
    if done:
        runtime.ledger.recorded(run_id)
    return done


def _record(runtime: Runtime, clone: Path, message: RunMessage, entry: dict[str, Any]) -> bool:
    environ = run_environment(message)
    shared.refresh_trace(clone, message.trace_branch, shared.ORIGIN)
    place = locate(clone, environ)
    reader = trace_reader(place)
    try:
        record = dict(reader.read_run(message.run_id))
    except OrchError:
        log.error("lost run %s is not in the trace: nothing to record", message.run_id)
        return True
    state = str(record.get("state"))
    if state in TERMINAL:
        return True
    reason = reason_for(entry, state, runtime.node)
    files = {
        path: reader.read_file(message.run_id, path) for path in reader.list_files(message.run_id)
    }
    step = entry.get("step") if isinstance(entry.get("step"), str) else None
    files["run.json"] = encode_record(mark_failed(record, reason, step))
    note = f"\n\n> **Failed**: {reason}\n"
    files["report.md"] = files.get("report.md", b"").rstrip(b"\n") + note.encode()
    writer = trace_writer(place)
    writer.commit_run(
        message.workflow,
        message.run_id,
        files,
        state="failed",
        message_title=reason,
        trailers={
            "Orch-Lost-Worker": str(entry.get("worker") or "-"),
            "Orch-Recorded-By": runtime.node,
        },
    )
    return True


def mark_failed(record: dict[str, Any], reason: str, step: str | None = None) -> dict[str, Any]:
    """``record`` (pending or running) moved to ``failed`` with ``reason``; ``step`` is the
    step the worker last said it started (the trace has only the run's start)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = dict(record)
    running = None
    steps = []
    for item in record.get("steps") or []:
        entry = dict(item) if isinstance(item, dict) else item
        if isinstance(entry, dict) and (
            entry.get("state") == "running"
            or (entry.get("name") == step and entry.get("state") == "pending")
        ):
            running = running or entry.get("name")
            entry["state"] = "failed"
            entry["ended_at"] = entry.get("ended_at") or now
            entry["error"] = entry.get("error") or "its worker was lost while it ran"
            entry["transitions"] = [
                *(entry.get("transitions") or []),
                {"state": "failed", "at": now},
            ]
        steps.append(entry)
    record["steps"] = steps
    record["state"] = "failed"
    record["transitions"] = [*(record.get("transitions") or []), {"state": "failed", "at": now}]
    record["ended_at"] = now
    record["error"] = {"step": running, "message": reason}
    return record
