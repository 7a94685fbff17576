"""Pushing the trace branch, and merging a remote's trace into ours when a push is rejected.

Two traces merge by taking the union of their run folders. When both sides hold the same run,
the version that got further wins (a terminal state, then more transitions). Identical
subtrees are skipped by id, so a merge reads only what differs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from orchestrator.errors import TraceError
from orchestrator.trace.gitcmd import GitFailed, run_git
from orchestrator.trace.layout import (
    OPEN_RUNS,
    RUN_RECORD,
    RUNS,
    TERMINAL_STATES,
    encode_open_runs,
    parse_record,
    progress_rank,
    read_open_runs,
    tip_root,
)
from orchestrator.trace.objects import (
    BLOB_MODE,
    TREE_MODE,
    Entry,
    ObjectStore,
    lookup,
    write_commit,
)


class TracePushError(TraceError):
    """The run is committed locally, but the trace branch could not be pushed."""

    def __init__(self, message: str, commit: str) -> None:
        self.commit = commit
        super().__init__(message)


class Pushing(Protocol):
    """What a push needs of the trace writer: its repository, branch and remote."""

    @property
    def git_dir(self) -> Path: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def branch(self) -> str: ...
    @property
    def ref(self) -> str: ...
    @property
    def remote(self) -> str | None: ...
    @property
    def own_ref(self) -> str | None: ...
    @property
    def push_attempts(self) -> int: ...


def _record_of(store: ObjectStore, folder: str) -> dict[str, Any] | None:
    for entry in store.read_tree(folder):
        if entry.name == RUN_RECORD and not entry.is_tree:
            return parse_record(store.read_typed(entry.sha, "blob"), RUN_RECORD)
    return None


def _is_run_folder(store: ObjectStore, tree: str) -> bool:
    return any(e.name == RUN_RECORD and not e.is_tree for e in store.read_tree(tree))


def merge_folders(store: ObjectStore, ours: str, theirs: str) -> str:
    """Union of two ``runs/`` subtrees, run folders resolved by progress."""
    if ours == theirs:
        return ours
    if _is_run_folder(store, ours) or _is_run_folder(store, theirs):
        mine, other = _record_of(store, ours), _record_of(store, theirs)
        if mine is None:
            return theirs
        if other is None:
            return ours
        return theirs if progress_rank(other) > progress_rank(mine) else ours
    entries = {e.name: e for e in store.read_tree(ours)}
    for entry in store.read_tree(theirs):
        mine_entry = entries.get(entry.name)
        if mine_entry is None:
            entries[entry.name] = entry
        elif mine_entry.sha != entry.sha and mine_entry.is_tree and entry.is_tree:
            merged = merge_folders(store, mine_entry.sha, entry.sha)
            entries[entry.name] = Entry(TREE_MODE, entry.name, merged)
    return store.write_tree(list(entries.values()))


def merge_roots(store: ObjectStore, branch: str, ours_tip: str, theirs_tip: str) -> str:
    """Root tree of the merge of two trace tips (both checked to be orch traces)."""
    _, ours = tip_root(store, branch, ours_tip)
    _, theirs = tip_root(store, branch, theirs_tip)
    runs = merge_folders(store, ours[RUNS].sha, theirs[RUNS].sha)
    candidates = read_open_runs(store, theirs.get(OPEN_RUNS))
    candidates.update(read_open_runs(store, ours.get(OPEN_RUNS)))
    still_open: dict[str, dict[str, Any]] = {}
    for key, info in candidates.items():
        entry = lookup(store, runs, (*key.split("/"), RUN_RECORD))
        if entry is None:
            continue
        record = parse_record(store.read_typed(entry.sha, "blob"), f"{key}/{RUN_RECORD}")
        if record.get("state") not in TERMINAL_STATES:
            still_open[key] = {**info, "state": record.get("state")}
    blob = store.write("blob", encode_open_runs(still_open))
    return store.write_tree([Entry(TREE_MODE, RUNS, runs), Entry(BLOB_MODE, OPEN_RUNS, blob)])


def _tracking_ref(remote: str, branch: str) -> str:
    if all(c.isalnum() or c in "-_." for c in remote):
        return f"refs/remotes/{remote}/{branch}"
    return f"refs/orch/fetched/{branch}"


@contextlib.contextmanager
def _one_push_at_a_time(git_dir: Path) -> Iterator[None]:
    """Pushes from one repository wait for each other (threads and processes): two at once
    would only race for the same remote-tracking ref and reject each other."""
    fd = os.open(git_dir / "orch-push.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pushed_ref(writer: Pushing) -> str:
    """Where the last successful push is remembered: the remote-tracking ref of the branch,
    or, for a writer that pushes to a ref of its own, ``refs/orch/pushed/<branch>``."""
    assert writer.remote is not None
    if writer.own_ref:
        return f"refs/orch/pushed/{writer.branch}"
    return _tracking_ref(writer.remote, writer.branch)


def push_with_merge(writer: Pushing) -> None:
    with _one_push_at_a_time(writer.git_dir):
        _push_with_merge(writer)


def _push_with_merge(writer: Pushing) -> None:
    assert writer.remote is not None
    remote, store, ref = writer.remote, writer.store, writer.ref
    # A writer with a ref of its own on the remote (distributed runs) pushes there: nobody
    # else moves it, so the push is not rejected and needs no merge.
    target = writer.own_ref or ref
    tracking = pushed_ref(writer)
    last_error = ""
    tip = store.read_ref(ref) or ""
    for attempt in range(writer.push_attempts):
        tip = store.read_ref(ref) or ""
        try:
            run_git("push", "--quiet", remote, f"{ref}:{target}", git_dir=writer.git_dir)
            run_git("update-ref", tracking, tip, git_dir=writer.git_dir)
            return
        except GitFailed as exc:
            last_error = exc.stderr.strip()
        try:
            run_git(
                "fetch",
                "--quiet",
                "--no-tags",
                remote,
                f"+{target}:{tracking}",
                git_dir=writer.git_dir,
            )
        except GitFailed as exc:
            last_error = exc.stderr.strip()
            break
        theirs = store.read_ref(tracking)
        if theirs is None or theirs == tip:
            break
        try:
            run_git("merge-base", "--is-ancestor", theirs, tip, git_dir=writer.git_dir)
            break
        except GitFailed:
            pass
        tree = merge_roots(store, writer.branch, tip, theirs)
        message = (
            f"orch: merge {writer.branch} from {remote}\n\nUnion of run folders; no run is lost.\n"
        ).encode()
        merged = write_commit(store, tree, [tip, theirs], message)
        store.update_ref(ref, merged, tip, f"orch: merge {remote}")
        time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
    raise TracePushError(
        f"run recorded in {writer.branch!r} of {writer.git_dir} (commit {tip[:12]}) but pushing "
        f"it to {remote!r} failed: {last_error or 'the remote kept moving'}. "
        f"Push it later with: git push {remote} {writer.branch}",
        tip,
    )
