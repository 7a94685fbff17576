"""Installing and removing the hook scripts: where git looks, and hooks that are not orch's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from orchestrator.api import hooks as hooks_api
from orchestrator.errors import UsageError
from tests.conftest import git
from tests.core.helpers import orch
from tests.hooks.helpers import commit, draft, stage

NAMES = ("pre-commit", "post-commit", "post-merge")
FOREIGN = "#!/bin/sh\ntouch .git/foreign-ran\nexit ${FOREIGN_EXIT:-0}\n"


def _assert_installed(folder: Path) -> None:
    for name in NAMES:
        path = folder / name
        text = path.read_text()
        assert text.startswith("#!/bin/sh\n# orch-hook v1\n")
        assert f'{sys.executable} -P -m orchestrator hooks run {name} "$@"' in text
        assert os.access(path, os.X_OK)


def test_install_writes_scripts_where_git_looks_and_is_idempotent(git_repo: Path) -> None:
    first = hooks_api.install_hooks(git_repo)
    assert [c.action for c in first] == ["installed"] * 3
    _assert_installed(git_repo / ".git" / "hooks")
    again = hooks_api.install_hooks(git_repo / ".git" / ".." / "README.md")
    assert [c.action for c in again] == ["unchanged"] * 3
    removed = hooks_api.uninstall_hooks(git_repo)
    assert [c.action for c in removed] == ["removed"] * 3
    assert not any((git_repo / ".git" / "hooks" / name).exists() for name in NAMES)
    assert [c.action for c in hooks_api.uninstall_hooks(git_repo)] == ["absent"] * 3


def test_relative_hooks_path_is_relative_to_the_work_tree(git_repo: Path) -> None:
    git(git_repo, "config", "core.hooksPath", "tools/githooks")
    (git_repo / "sub").mkdir()
    ran = orch(git_repo / "sub", "hooks", "install")
    assert ran.code == 0, ran.stderr
    _assert_installed(git_repo / "tools" / "githooks")
    assert not (git_repo / "sub" / "tools").exists()
    assert not (git_repo / ".git" / "hooks" / "pre-commit").exists()
    assert [c.action for c in hooks_api.uninstall_hooks(git_repo / "sub")] == ["removed"] * 3
    assert not (git_repo / "tools" / "githooks" / "pre-commit").exists()


def test_absolute_hooks_path(git_repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared-hooks"
    git(git_repo, "config", "core.hooksPath", str(elsewhere))
    hooks_api.install_hooks(git_repo)
    _assert_installed(elsewhere)
    stage(git_repo, {"intents/bad.md": draft("bad", extra="colour: blue\n")})
    blocked = commit(git_repo, "-m", "bad")
    assert blocked.returncode == 1
    assert "intents/bad.md:4:1:" in blocked.stderr


def test_a_foreign_hook_is_refused_then_kept_and_chained_with_force(git_repo: Path) -> None:
    folder = git_repo / ".git" / "hooks"
    foreign = folder / "pre-commit"
    foreign.write_text(FOREIGN)
    foreign.chmod(0o755)

    refused = orch(git_repo, "hooks", "install")
    assert refused.code == 2
    assert str(foreign) in refused.stderr
    assert "--force" in refused.stderr
    assert foreign.read_text() == FOREIGN
    assert not (folder / "post-commit").exists()

    forced = orch(git_repo, "hooks", "install", "--force")
    assert forced.code == 0, forced.stderr
    assert (folder / "pre-commit.orch-backup").read_text() == FOREIGN
    _assert_installed(folder)

    stage(git_repo, {"intents/ok.md": draft("ok")})
    done = commit(git_repo, "-m", "the foreign hook runs first")
    assert done.returncode == 0, done.stderr
    assert (git_repo / ".git" / "foreign-ran").exists()

    before = git(git_repo, "rev-parse", "HEAD")
    stage(git_repo, {"intents/ok2.md": draft("ok2")})
    failed = commit(git_repo, "-m", "the foreign hook fails", env={"FOREIGN_EXIT": "1"})
    assert failed.returncode != 0
    assert git(git_repo, "rev-parse", "HEAD") == before

    assert [c.action for c in hooks_api.install_hooks(git_repo)] == ["unchanged"] * 3
    restored = hooks_api.uninstall_hooks(git_repo)
    assert [c.action for c in restored] == ["restored", "removed", "removed"]
    assert foreign.read_text() == FOREIGN
    assert os.access(foreign, os.X_OK)
    assert not (folder / "pre-commit.orch-backup").exists()


def test_uninstall_leaves_foreign_hooks_alone(git_repo: Path) -> None:
    foreign = git_repo / ".git" / "hooks" / "post-merge"
    foreign.write_text(FOREIGN)
    changes = hooks_api.uninstall_hooks(git_repo)
    assert [c.action for c in changes] == ["absent", "absent", "foreign"]
    assert foreign.read_text() == FOREIGN


def test_install_outside_a_repository_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not in a git repository"):
        hooks_api.install_hooks(tmp_path)
