"""A fixed run history committed to a real trace, for tables whose every line is asserted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.trace import RunFiles, TraceWriter, encode_record

# (run id, workflow, state, trigger source, actor, seconds)
RUNS = [
    (
        "20261125T221501Z-a1b2c3",
        "nightly-database-backup-and-verification-for-production",
        "completed",
        "schedule",
        "Ops Scheduler <ops@example.invalid>",
        125.5,
    ),
    ("20261125T221400Z-0f0f0f", "deploy", "failed", "manual", "Ann Example <ann@x.invalid>", 3.25),
    (
        "20261125T221300Z-777777",
        "rotate-certificates",
        "completed",
        "hook",
        "a-very-long-actor-name-from-a-ci-system-that-goes-on",
        0.5,
    ),
    ("20261125T221200Z-000001", "deploy", "running", "api", "deploy-bot", None),
]


def record(
    rid: str, workflow: str, state: str, source: str, actor: str, seconds: float | None
) -> dict[str, Any]:
    at = f"2026-11-25T{rid[9:11]}:{rid[11:13]}:{rid[13:15]}.000Z"
    return {
        "schema": 1,
        "run_id": rid,
        "workflow": {
            "id": workflow,
            "title": workflow.replace("-", " ").title(),
            "owner": "ops",
            "status": "approved",
            "publication": "required",
        },
        "document": {
            "path": f"intents/{workflow}.md",
            "commit": "c" * 40,
            "blob": "b" * 40,
            "dirty": False,
        },
        # Another host: the runs of this host that look dead are recovered by every command.
        "trigger": {
            "source": source,
            "actor": actor,
            "host": "build-07",
            "pid": 4242,
            "pid_started": None,
            "orch_version": "0.1.0",
        },
        "inputs": {},
        "inputs_digest": "sha256:" + "d" * 64,
        "workspace": {"kind": "worktree", "commit": "c" * 40, "dirty": False},
        "state": state,
        "transitions": [{"state": "running", "at": at}],
        "started_at": at,
        "ended_at": None if seconds is None else at,
        "steps": [],
        "artifacts": [],
        "error": None,
        "duration_seconds": seconds,
    }


def commit_history(repo: Path) -> None:
    """The runs of ``RUNS`` on the trace branch of ``repo``."""
    TraceWriter(repo).commit_runs(
        [
            RunFiles(run[1], run[0], {"run.json": encode_record(record(*run))}, run[2])
            for run in RUNS
        ]
    )
