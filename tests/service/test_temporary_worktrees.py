"""The temporary worktree of unattended runs: gone before a run's end is recorded, one error
policy, and a queued run that cannot start ends ``failed`` with the reason, never ``pending``.

Real repositories, real ``git worktree``, the real trace.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pytest

from orchestrator.api import ending, queued_runs
from orchestrator.api.recording_runs import DID_NOT_START
from orchestrator.api.worktrees import temporary_worktree
from orchestrator.errors import TraceError
from tests.conftest import git
from tests.core.helpers import commit_documents, document, trace_record

PLAIN = document("id: plain\ntitle: Plain\nstatus: approved\n", "```bash {step=a}\ntrue\n```\n")


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return commit_documents(git_repo, {"intents/plain.md": PLAIN})


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary folders of this test only, to see what is left behind."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def worktrees(repo: Path) -> list[str]:
    listing = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


def test_the_worktree_is_gone_when_the_runs_end_is_recorded(
    repo: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[list[str], list[Path]]] = []
    real_record_end = ending.record_end

    def record_end(*args: Any) -> Any:
        seen.append((worktrees(repo), sorted(scratch.iterdir())))
        return real_record_end(*args)

    monkeypatch.setattr(ending, "record_end", record_end)
    queued = queued_runs.enqueue(repo, "plain", {}, actor="ci")
    assert queued_runs.run_queued(repo, queued) == "completed"
    assert seen == [([str(repo)], [])]
    assert trace_record(repo, "plain", queued.run_id)["workspace"]["kind"] == "worktree"
    assert worktrees(repo) == [str(repo)]


def test_a_queued_run_whose_lock_cannot_be_taken_ends_failed_not_pending(
    repo: Path, scratch: Path
) -> None:
    queued = queued_runs.enqueue(repo, "plain", {}, actor="ci")
    # The workflow's lock file is a folder: the lock cannot be taken, so the run cannot start.
    (repo / ".orch" / "locks" / "plain.lock").mkdir(parents=True)
    assert queued_runs.run_queued(repo, queued) == "failed"
    stored = trace_record(repo, "plain", queued.run_id)
    assert stored["state"] == "failed"
    assert [t["state"] for t in stored["transitions"]] == ["pending", "failed"]
    message = stored["error"]["message"]
    assert message.startswith("the run could not start: ")
    assert "taking the workflow's lock" in message
    assert message.endswith(f"; {DID_NOT_START}")
    assert stored["error"]["step"] is None
    assert stored["steps"] == []
    assert worktrees(repo) == [str(repo)]
    assert list(scratch.iterdir()) == []
    assert queued_runs.pending_runs(repo) == []


def test_a_commit_that_cannot_be_checked_out_raises_and_leaves_nothing(
    repo: Path, scratch: Path
) -> None:
    missing = "0123456789" * 4
    with pytest.raises(TraceError) as caught, temporary_worktree(repo, missing):
        pytest.fail("no worktree of a missing commit")
    assert str(caught.value).startswith(f"could not check out {missing}: ")
    assert worktrees(repo) == [str(repo)]
    assert list(scratch.iterdir()) == []


def test_a_worktree_that_cannot_be_removed_is_a_warning_and_is_forgotten(
    repo: Path, scratch: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    with caplog.at_level(logging.WARNING, "orch"), temporary_worktree(repo, head) as tree:
        assert (tree.path / "intents" / "plain.md").read_text() == PLAIN
        assert worktrees(repo) == [str(repo), str(tree.path)]
        # Without its .git file the checkout is no worktree git knows how to remove.
        (tree.path / ".git").unlink()
    assert [r.getMessage() for r in caplog.records] == [
        f"could not remove the temporary worktree {tree.path}: git worktree remove --force "
        f"--force {tree.path} failed (128): fatal: validation failed, cannot remove working "
        f"tree: '{tree.path / '.git'}' does not exist"
    ]
    assert worktrees(repo) == [str(repo)]
    assert not tree.folder.exists()
    assert list(scratch.iterdir()) == []
