"""Run records and folders for trace tests."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from orchestrator.trace import encode_record


def run_id(n: int, suffix: str = "abcdef") -> str:
    return f"20261125T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}Z-{suffix}"


def record(
    workflow: str,
    rid: str,
    state: str = "running",
    *,
    pid: int | None = None,
    host: str | None = None,
    pid_started: str | None = None,
    steps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    transitions = [{"state": "pending", "at": "2026-11-25T22:15:00+00:00"}]
    if state != "pending":
        transitions.append({"state": "running", "at": "2026-11-25T22:15:01+00:00"})
    if state in {"completed", "failed"}:
        transitions.append({"state": state, "at": "2026-11-25T22:16:00+00:00"})
    return {
        "schema": 1,
        "run_id": rid,
        "workflow": {
            "id": workflow,
            "title": f"Workflow {workflow}",
            "owner": "ops",
            "status": "approved",
        },
        "document": {
            "path": f"intents/{workflow}.md",
            "commit": "c0ffee" * 6 + "c0ff",
            "blob": "b" * 40,
            "dirty": False,
        },
        "trigger": {
            "source": "manual",
            "actor": "ann",
            "host": host or socket.gethostname(),
            "pid": pid if pid is not None else os.getpid(),
            "pid_started": pid_started,
            "orch_version": "0.1.0",
        },
        "state": state,
        "transitions": transitions,
        "started_at": "2026-11-25T22:15:01+00:00",
        "ended_at": "2026-11-25T22:16:00+00:00" if state in {"completed", "failed"} else None,
        "steps": steps
        or [{"name": "build", "state": "completed" if state == "completed" else "running"}],
        "artifacts": [],
        "error": None,
    }


def folder(rec: dict[str, Any], *, log: bytes = b"step output\n") -> dict[str, bytes]:
    return {
        "run.json": encode_record(rec),
        "report.md": f"# {rec['workflow']['title']}\n\nstate: {rec['state']}\n".encode(),
        "logs/01-build.log": log,
    }


def loads(data: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(data)
    return result
