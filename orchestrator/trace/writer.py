"""Committing run folders to the trace branch without touching a work tree, index or HEAD.

A commit is built from objects only: the run folder's blobs and trees are written to the
object database, the path from the root to the run folder is rewritten (every other subtree
is reused by id, so the cost does not grow with the number of runs), and the branch moves by
a compare-and-swap ``git update-ref <ref> NEW OLD``. When another process moved the branch
first, the same run folder is grafted onto the new tip and the update is tried again: runs
never share files, so this never conflicts.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import TraceError
from orchestrator.trace.gitcmd import GitFailed, run_git
from orchestrator.trace.housekeeping import pack_when_needed
from orchestrator.trace.layout import (
    OPEN_RUNS,
    RUN_RECORD,
    RUNS,
    STATES,
    TERMINAL_STATES,
    check_name,
    check_relpath,
    encode_open_runs,
    open_entry,
    parse_record,
    read_open_runs,
    tip_root,
)
from orchestrator.trace.merge import TracePushError, push_with_merge
from orchestrator.trace.objects import (
    BLOB_MODE,
    TREE_MODE,
    Entry,
    ObjectStore,
    edit_tree,
    write_commit,
)
from orchestrator.trace.repo import git_common_dir

__all__ = ["DEFAULT_REF", "RunFiles", "TracePushError", "TraceWriter", "encode_record"]


@dataclass(frozen=True)
class RunFiles:
    """One run folder to commit: its files relative to the folder, and its state."""

    workflow_id: str
    run_id: str
    files: Mapping[str, bytes]
    state: str


DEFAULT_REF = "refs/heads/orch-trace"


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


@functools.lru_cache(maxsize=16)
def _valid_ref(ref: str) -> bool:
    if ref == DEFAULT_REF:
        return True
    try:
        run_git("check-ref-format", ref)
    except GitFailed:
        return False
    return True


class TraceWriter:
    """Writes run folders to ``branch`` of ``trace_repo`` (a work tree, .git or bare repo)."""

    def __init__(
        self,
        trace_repo: Path,
        branch: str = "orch-trace",
        *,
        prefix: str = "",
        remote: str | None = None,
        max_attempts: int = 50,
        push_attempts: int = 10,
        own_ref: str | None = None,
    ) -> None:
        self.trace_repo = Path(trace_repo)
        self.git_dir = git_common_dir(self.trace_repo)
        self.store = ObjectStore(self.git_dir)
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        if not _valid_ref(self.ref):
            raise TraceError(f"{branch!r} is not a valid branch name for the trace")
        self.prefix = check_name(prefix, "trace prefix") if prefix else ""
        self.remote = remote
        self.max_attempts = max_attempts
        self.push_attempts = push_attempts
        # Distributed runs: the ref of the remote this writer alone pushes to (see
        # docs/distributed.md); None pushes the branch itself.
        self.own_ref = own_ref

    def run_path(self, workflow_id: str, run_id: str) -> tuple[str, ...]:
        """Path of a run folder below the branch root, as components."""
        head = (RUNS, self.prefix) if self.prefix else (RUNS,)
        return (*head, check_name(workflow_id, "workflow id"), check_name(run_id, "run id"))

    def commit_run(
        self,
        workflow_id: str,
        run_id: str,
        files: Mapping[str, bytes],
        *,
        state: str,
        message_title: str = "",
        trailers: Mapping[str, str] | None = None,
        author: tuple[str, str] | None = None,
    ) -> str:
        """Commit one run folder (replacing its previous contents); return the commit id."""
        return self.commit_runs(
            [RunFiles(workflow_id, run_id, files, state)],
            message_title=message_title,
            trailers=trailers,
            author=author,
        )

    def commit_runs(
        self,
        runs: list[RunFiles],
        *,
        message_title: str = "",
        trailers: Mapping[str, str] | None = None,
        author: tuple[str, str] | None = None,
    ) -> str:
        """Commit several run folders in one commit (imports, benchmarks); see commit_run."""
        if not runs:
            raise TraceError("nothing to commit to the trace")
        edits: dict[tuple[str, ...], Entry | None] = {}
        open_changes: dict[str, dict[str, Any] | None] = {}
        records: list[dict[str, Any]] = []
        for run in runs:
            if run.state not in STATES:
                raise TraceError(f"unknown run state {run.state!r}")
            path = self.run_path(run.workflow_id, run.run_id)
            folder = self._write_folder(run.files)
            edits[path] = Entry(TREE_MODE, path[-1], folder)
            record: dict[str, Any] = {}
            if RUN_RECORD in run.files:
                record = parse_record(run.files[RUN_RECORD], f"{RUN_RECORD} of run {run.run_id}")
            records.append(record)
            key = "/".join(path[1:])
            open_changes[key] = (
                None if run.state in TERMINAL_STATES else open_entry(record, run.state)
            )
        message = self._message(runs, records, message_title, trailers or {})
        commit = self._commit_with_retry(edits, open_changes, message, author)
        if self.remote:
            self.push()
        if any(run.state in TERMINAL_STATES for run in runs):
            pack_when_needed(self.git_dir)
        return commit

    def _write_folder(self, files: Mapping[str, bytes]) -> str:
        if not files:
            raise TraceError("a run folder needs at least one file")
        folder_edits: dict[tuple[str, ...], Entry | None] = {}
        for relpath, data in files.items():
            parts = check_relpath(relpath)
            folder_edits[parts] = Entry(BLOB_MODE, parts[-1], self.store.write("blob", data))
        tree = edit_tree(self.store, None, folder_edits)
        assert tree is not None
        return tree

    def _message(
        self,
        runs: list[RunFiles],
        records: list[dict[str, Any]],
        body: str,
        extra: Mapping[str, str],
    ) -> bytes:
        first, record = runs[0], records[0]
        if len(runs) == 1:
            title = f"orch: {first.workflow_id} {first.run_id} {first.state}"
        else:
            title = f"orch: {len(runs)} runs"
        document = record.get("document")
        document = document if isinstance(document, dict) else {}
        trailers: dict[str, str] = {
            "Orch-Workflow": first.workflow_id,
            "Orch-Run": first.run_id,
            "Orch-State": first.state,
        }
        if document.get("path"):
            trailers["Orch-Document"] = str(document["path"])
        if document.get("commit"):
            trailers["Orch-Revision"] = str(document["commit"])
        if len(runs) > 1:
            trailers = {}
        for key, value in extra.items():
            if not key or any(c in key for c in ": \n"):
                raise TraceError(f"invalid trailer name {key!r}")
            trailers[key] = value
        lines = [_one_line(title), ""]
        if body.strip():
            lines += [_one_line(body), ""]
        lines += [f"{key}: {_one_line(value)}" for key, value in trailers.items()]
        return ("\n".join(lines) + "\n").encode()

    def _commit_with_retry(
        self,
        edits: dict[tuple[str, ...], Entry | None],
        open_changes: dict[str, dict[str, Any] | None],
        message: bytes,
        author: tuple[str, str] | None,
    ) -> str:
        for attempt in range(self.max_attempts):
            old = self.store.read_ref(self.ref)
            root, entries = (None, {}) if old is None else tip_root(self.store, self.branch, old)
            open_runs = read_open_runs(self.store, entries.get(OPEN_RUNS))
            for key, value in open_changes.items():
                if value is None:
                    open_runs.pop(key, None)
                else:
                    open_runs[key] = value
            all_edits = dict(edits)
            blob = self.store.write("blob", encode_open_runs(open_runs))
            all_edits[(OPEN_RUNS,)] = Entry(BLOB_MODE, OPEN_RUNS, blob)
            tree = edit_tree(self.store, root, all_edits)
            assert tree is not None
            commit = self.write_commit(tree, [old] if old else [], message, author)
            if self.store.update_ref(self.ref, commit, old, f"orch: {self.branch}"):
                return commit
            time.sleep(random.uniform(0.001, 0.004) * min(attempt + 1, 10))
        raise TraceError(
            f"could not update {self.branch!r} in {self.git_dir}: it kept moving under "
            f"{self.max_attempts} attempts by other writers"
        )

    def write_commit(
        self,
        tree: str,
        parents: list[str],
        message: bytes,
        author: tuple[str, str] | None = None,
    ) -> str:
        """Write a commit object (committer: orch; author: ``author`` or orch)."""
        return write_commit(self.store, tree, parents, message, author)

    def push(self) -> None:
        """Push the branch; when rejected, merge the remote's trace and push again."""
        push_with_merge(self)


def encode_record(record: Mapping[str, Any]) -> bytes:
    """``run.json`` bytes as the trace stores them: indented, keys in the given order."""
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
