"""The shape of the trace branch, shared by the writer, the reader and the merge.

The tip of the trace branch holds exactly::

    runs/[<prefix>/]<workflow-id>/<run-id>/run.json, report.md, logs/...
    open-runs.json      runs not yet ended (completed, failed or cancelled), with their host and pid

Anything else at the root means the branch is not an orch trace.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.errors import TraceError
from orchestrator.trace.objects import Entry, ObjectStore, commit_tree_id

RUNS = "runs"
OPEN_RUNS = "open-runs.json"
RUN_RECORD = "run.json"
TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})
STATES = frozenset({"pending", "running", "waiting", "completed", "failed", "cancelled"})


def check_name(name: str, what: str) -> str:
    """``name`` when usable as one path component in a git tree, else TraceError."""
    if (
        not name
        or name in {".", ".."}
        or name.lower() == ".git"
        or any(c in name for c in "/\\\0\n\r")
    ):
        raise TraceError(f"invalid {what} {name!r} for the run trace")
    return name


def check_relpath(relpath: str) -> tuple[str, ...]:
    parts = tuple(relpath.split("/"))
    for part in parts:
        check_name(part, "file path component in " + repr(relpath))
    return parts


def foreign_branch(branch: str, store: ObjectStore, tip: str, why: str) -> TraceError:
    return TraceError(
        f"branch {branch!r} in {store.git_dir} is not an orch run trace ({why}; tip {tip[:12]}). "
        f"Nothing was written. Rename it (git branch -m {branch} {branch}-old) or configure "
        "another trace branch."
    )


def tip_root(store: ObjectStore, branch: str, tip: str) -> tuple[str, dict[str, Entry]]:
    """(root tree id, root entries) of a trace tip, after checking it is an orch trace."""
    kind, _ = store.read(tip)
    if kind != "commit":
        raise foreign_branch(branch, store, tip, f"it points at a {kind}, not a commit")
    root = commit_tree_id(store, tip)
    entries = {e.name: e for e in store.read_tree(root)}
    runs = entries.get(RUNS)
    if runs is None or not runs.is_tree:
        raise foreign_branch(branch, store, tip, "its tree has no runs/ folder")
    others = sorted(set(entries) - {RUNS, OPEN_RUNS})
    if others:
        raise foreign_branch(branch, store, tip, f"it holds {', '.join(others)} outside runs/")
    if OPEN_RUNS in entries and entries[OPEN_RUNS].is_tree:
        raise foreign_branch(branch, store, tip, f"{OPEN_RUNS} is a folder")
    return root, entries


def read_open_runs(store: ObjectStore, entry: Entry | None) -> dict[str, dict[str, Any]]:
    """The open-runs index ({"[prefix/]workflow/run-id": {...}}), empty when absent."""
    if entry is None:
        return {}
    try:
        data = json.loads(store.read_typed(entry.sha, "blob"))
    except ValueError as exc:
        raise TraceError(f"{OPEN_RUNS} in the trace is not valid JSON: {exc}") from exc
    runs = data.get("runs", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in runs.items() if isinstance(v, dict)}


def encode_open_runs(runs: dict[str, dict[str, Any]]) -> bytes:
    return (json.dumps({"runs": runs}, indent=1, sort_keys=True) + "\n").encode()


def open_entry(record: dict[str, Any], state: str) -> dict[str, Any]:
    """What the open-runs index keeps of a run: enough to decide whether it is dead."""
    trigger = record.get("trigger")
    trigger = trigger if isinstance(trigger, dict) else {}
    return {
        "state": state,
        "host": trigger.get("host"),
        "pid": trigger.get("pid"),
        "pid_started": trigger.get("pid_started"),
    }


def parse_record(data: bytes, where: str) -> dict[str, Any]:
    try:
        record = json.loads(data)
    except ValueError as exc:
        raise TraceError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise TraceError(f"{where} is not a JSON object")
    return record


def progress_rank(record: dict[str, Any]) -> tuple[int, int, str]:
    """Orders two versions of one run: a terminal state, then more transitions, wins."""
    transitions = record.get("transitions")
    count = len(transitions) if isinstance(transitions, list) else 0
    return (
        1 if record.get("state") in TERMINAL_STATES else 0,
        count,
        str(record.get("ended_at") or ""),
    )
