"""A worker's fetch of the shared trace while another of its runs adds a worktree to the same
clone: ``git worktree add`` writes the new worktree's HEAD as a null id first, and a fetch at
that moment fails with "bad object worktrees/…/HEAD". The fetch waits for the moment to pass;
a HEAD that stays broken is still reported, with git's words."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrator.errors import TraceError
from orchestrator.trace import shared
from tests.conftest import git

NULL_ID = "0" * 40


def _clone_with_a_worktree(tmp_path: Path) -> tuple[Path, Path, str]:
    """A bare remote with an ``orch-trace`` branch, a clone of it, and the admin folder of a
    worktree of that clone; the commit."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    git(clone, "commit", "-q", "--allow-empty", "-m", "documents")
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/orch-trace")
    commit = git(clone, "rev-parse", "HEAD").strip()
    git(clone, "worktree", "add", "-q", "--detach", str(tmp_path / "tree"), commit)
    return clone, clone / ".git" / "worktrees" / "tree" / "HEAD", commit


def test_a_worktree_being_added_does_not_fail_the_fetch(tmp_path: Path) -> None:
    clone, head, commit = _clone_with_a_worktree(tmp_path)
    head.write_text(NULL_ID + "\n")
    # The other run's `git worktree add` sets the real HEAD a moment later.
    later = threading.Timer(0.05, lambda: head.write_text(commit + "\n"))
    later.start()
    try:
        shared.fetch_for_run(clone, commit, "orch-trace")
    finally:
        later.join()
    assert git(clone, "rev-parse", "refs/heads/orch-trace").strip() == commit


def test_a_worktree_head_that_stays_broken_is_reported(tmp_path: Path) -> None:
    clone, head, commit = _clone_with_a_worktree(tmp_path)
    head.write_text(NULL_ID + "\n")
    with pytest.raises(TraceError) as failed:
        shared.fetch_for_run(clone, commit, "orch-trace")
    assert str(failed.value).startswith(
        "cannot fetch the trace branch 'orch-trace' from origin: fatal: bad object "
        "worktrees/tree/HEAD"
    )
