from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.trace import (
    blob_id_of_text,
    changed_files,
    file_commit,
    git_environment,
    head_and_blob,
    head_commit,
    is_dirty,
    repo_root,
    trace_repository_for,
    worktree_add,
    worktree_remove,
)
from tests.conftest import build_file_tree, git


def test_repo_root_from_a_file_a_subfolder_and_outside(git_repo: Path, tmp_path: Path) -> None:
    build_file_tree(git_repo, {"intents/deep/doc.md": "# doc\n"})
    assert repo_root(git_repo / "intents" / "deep" / "doc.md") == git_repo.resolve()
    assert repo_root(git_repo / "intents") == git_repo.resolve()
    outside = tmp_path / "outside"
    outside.mkdir()
    assert repo_root(outside) is None
    assert repo_root(tmp_path / "missing" / "doc.md") is None


def test_repo_root_ignores_an_inherited_git_dir(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.setenv("GIT_DIR", str(git_repo / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(git_repo))
    assert repo_root(outside) is None


def test_git_environment_drops_location_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX", "GIT_COMMON_DIR"):
        monkeypatch.setenv(name, "/somewhere")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "kept")
    env = git_environment()
    assert not {"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX"} & set(env)
    assert env["GIT_AUTHOR_NAME"] == "kept"
    assert env["HOME"] == os.environ["HOME"]


def test_head_commit_and_unborn_branch(git_repo: Path, tmp_path: Path) -> None:
    assert head_commit(git_repo) == git(git_repo, "rev-parse", "HEAD").strip()
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert head_commit(empty) is None


def test_head_and_blob_answers_each_missing_part_alone(git_repo: Path, tmp_path: Path) -> None:
    build_file_tree(git_repo, {"in dir/doc: one.md": "one\n"})
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "doc")
    head = git(git_repo, "rev-parse", "HEAD").strip()
    blob = git(git_repo, "rev-parse", "HEAD:in dir/doc: one.md").strip()
    assert head_and_blob(git_repo, "in dir/doc: one.md") == (head, blob)
    assert head_and_blob(git_repo, "not committed.md") == (head, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert head_and_blob(empty, "doc.md") == (None, None)


@pytest.mark.parametrize("text", ["", "hello\n", "ünïcode ✓\n", "no newline"])
def test_blob_id_matches_git_hash_object(tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(text.encode())
    assert blob_id_of_text(text) == git(tmp_path, "hash-object", str(path)).strip()


def test_file_commit_and_dirty(git_repo: Path) -> None:
    build_file_tree(git_repo, {"doc.md": "one\n"})
    git(git_repo, "add", "doc.md")
    git(git_repo, "commit", "-q", "-m", "doc")
    doc_commit = git(git_repo, "rev-parse", "HEAD").strip()
    build_file_tree(git_repo, {"other.md": "x\n"})
    git(git_repo, "add", "other.md")
    git(git_repo, "commit", "-q", "-m", "other")
    assert file_commit(git_repo, "doc.md") == doc_commit
    assert file_commit(git_repo, "never.md") is None
    assert is_dirty(git_repo, "doc.md", "one\n") is False
    assert is_dirty(git_repo, "doc.md", "two\n") is True
    assert is_dirty(git_repo, "new.md", "anything\n") is True


def test_changed_files_of_root_normal_and_merge_commits(git_repo: Path) -> None:
    root = git(git_repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert changed_files(git_repo, root) == ["README.md"]
    build_file_tree(git_repo, {"intents/a.md": "a\n", "b.txt": "b\n"})
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "two files")
    assert changed_files(git_repo, "HEAD") == ["b.txt", "intents/a.md"]
    git(git_repo, "checkout", "-q", "-b", "side", "HEAD~1")
    build_file_tree(git_repo, {"side.md": "s\n"})
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "side")
    git(git_repo, "checkout", "-q", "main")
    git(git_repo, "merge", "-q", "--no-ff", "-m", "merge", "side")
    assert changed_files(git_repo, "HEAD") == ["side.md"]


def test_worktree_add_and_remove_leave_the_checkout_alone(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "README.md").write_text("local edit\n")
    before = git(git_repo, "status", "--porcelain")
    dest = worktree_add(git_repo, git(git_repo, "rev-parse", "HEAD").strip(), tmp_path / "wt")
    assert (dest / "README.md").read_text() == "test repository\n"
    assert git(dest, "rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"
    (dest / "scratch.txt").write_text("left behind\n")
    worktree_remove(git_repo, dest)
    assert not dest.exists()
    assert git(git_repo, "worktree", "list").count("\n") == 1
    assert git(git_repo, "status", "--porcelain") == before


def test_trace_repository_for_inside_and_outside(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert trace_repository_for(git_repo / "README.md") == (git_repo.resolve(), False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    loose = tmp_path / "loose"
    loose.mkdir()
    repo, own = trace_repository_for(loose / "doc.md")
    assert own is True
    assert repo == Path.home() / ".local" / "share" / "orch" / "trace.git"
    assert (repo / "HEAD").is_file()
