"""Where a document lives, and what git says about it when git has little to say."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.api.workspace import git_identity, locate, relative_to_root, working_copy_dirty
from orchestrator.errors import UsageError
from tests.conftest import git


def test_a_missing_document_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as refused:
        locate(tmp_path / "nowhere.md")
    assert str(refused.value) == f"{tmp_path / 'nowhere.md'}: no such file or folder"


def test_a_document_outside_the_repository_is_refused(git_repo: Path, tmp_path: Path) -> None:
    home = locate(git_repo)
    outside = tmp_path / "elsewhere.md"
    outside.write_text("x")
    with pytest.raises(UsageError) as refused:
        relative_to_root(home, outside)
    assert str(refused.value) == (
        f"{outside} is outside the repository {home.root}: "
        "run documents that live in the repository"
    )


def test_a_folder_outside_git_is_a_clean_folder(tmp_path: Path) -> None:
    home = locate(tmp_path)
    assert (home.in_repository, home.root) == (False, tmp_path.resolve())
    assert working_copy_dirty(tmp_path) is False


def test_no_configured_identity_is_none(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert git_identity(git_repo) == "Test Person <test@example.invalid>"
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    assert git(git_repo, "config", "--list", "--local").find("user.") == -1
    assert git_identity(git_repo) is None
