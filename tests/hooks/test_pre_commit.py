"""pre-commit: the intent documents being committed are checked as staged, through real
``git commit`` runs of the installed hook."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from tests.hooks.helpers import commit, draft, head, installed, stage

VALID = draft("x")
INVALID = draft("x", extra="colour: blue\n")  # line 4 of the file: an unknown key


def test_an_invalid_document_blocks_the_commit(git_repo: Path) -> None:
    installed(git_repo)
    before = head(git_repo)
    stage(git_repo, {"intents/x.md": INVALID, "src/app.py": "print('hi')\n"})
    blocked = commit(git_repo, "-m", "invalid")
    assert blocked.returncode == 1
    assert "intents/x.md:4:1: unknown key 'colour'" in blocked.stderr
    assert "commit blocked" in blocked.stderr
    assert head(git_repo) == before
    assert git(git_repo, "diff", "--cached", "--name-only").split() == [
        "intents/x.md",
        "src/app.py",
    ]


def test_the_staged_version_is_checked_not_the_working_copy(git_repo: Path) -> None:
    installed(git_repo)
    stage(git_repo, {"intents/x.md": VALID})
    (git_repo / "intents" / "x.md").write_text(INVALID)
    passed = commit(git_repo, "-m", "valid as staged")
    assert passed.returncode == 0, passed.stderr
    assert git(git_repo, "show", "HEAD:intents/x.md") == VALID
    assert (git_repo / "intents" / "x.md").read_text() == INVALID

    before = head(git_repo)
    git(git_repo, "add", "intents/x.md")
    (git_repo / "intents" / "x.md").write_text(VALID)
    blocked = commit(git_repo, "-m", "invalid as staged")
    assert blocked.returncode == 1
    assert "intents/x.md:4:1:" in blocked.stderr
    assert head(git_repo) == before


def test_commit_all_checks_the_index_git_is_committing(git_repo: Path) -> None:
    stage(git_repo, {"intents/x.md": VALID})
    git(git_repo, "commit", "-q", "-m", "valid")
    installed(git_repo)
    before = head(git_repo)
    (git_repo / "intents" / "x.md").write_text(INVALID)
    # -a stages into a temporary index that git names in GIT_INDEX_FILE; .git/index still
    # holds the valid text
    blocked = commit(git_repo, "-a", "-m", "invalid through -a")
    assert blocked.returncode == 1
    assert "intents/x.md:4:1:" in blocked.stderr
    assert head(git_repo) == before


def test_ids_must_be_unique_across_the_index(git_repo: Path) -> None:
    stage(git_repo, {"intents/first.md": draft("shared"), "intents/README.md": "# About\n"})
    git(git_repo, "commit", "-q", "-m", "first")
    installed(git_repo)
    stage(git_repo, {"intents/team/second.md": draft("shared")})
    blocked = commit(git_repo, "-m", "clash")
    assert blocked.returncode == 1
    assert (
        "intents/team/second.md:2:1: id 'shared' is already used by intents/first.md"
        in blocked.stderr
    )


def test_commit_from_another_folder_with_git_dash_c(git_repo: Path, tmp_path: Path) -> None:
    installed(git_repo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stage(git_repo, {"intents/x.md": INVALID})
    before = head(git_repo)
    blocked = commit(git_repo, "-m", "from afar", cwd=elsewhere)
    assert blocked.returncode == 1, blocked.stderr
    assert "intents/x.md:4:1:" in blocked.stderr
    assert head(git_repo) == before
