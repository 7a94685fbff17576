"""The shipped ``.pre-commit-hooks.yaml``, run by the real ``pre-commit`` tool: the same checks
and the same messages as orch's own pre-commit hook, ids unique across the whole index
included (not only among the files being committed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import git
from tests.hooks.helpers import commit, draft, head, installed, stage

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / ".pre-commit-hooks.yaml"
CLASH = (
    "intents/team/second.md:2:1: id 'shared' is already used by intents/first.md: ids must be "
    "unique"
)
UNKNOWN_KEY = (
    "intents/x.md:4:1: unknown key 'colour' in the front matter (expected one of: id, title, "
    "owner, status, publication, system, description, inputs, env, secrets, runs_on, defaults, "
    "on, artifacts)"
)
BLOCKED = (
    "orch: commit blocked: 1 problem(s) in staged intent documents; fix them and stage again "
    "(git commit --no-verify skips this check)"
)


def _hooks() -> list[dict[str, object]]:
    loaded: list[dict[str, object]] = YAML(typ="safe").load(SHIPPED.read_text())
    return loaded


@pytest.fixture
def framework(git_repo: Path, tmp_path: Path) -> Path:
    """``git_repo`` with the pre-commit framework installed, using the shipped hook file
    (committed into a repository of its own, as pre-commit clones one), the hook that runs
    the ``orch`` on PATH."""
    if shutil.which("orch") is None:
        pytest.skip("orch is not on PATH (python3 tasks.py test puts .venv/bin there)")
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    git(hook_repo, "init", "-q")
    shutil.copy(SHIPPED, hook_repo / ".pre-commit-hooks.yaml")
    git(hook_repo, "add", ".pre-commit-hooks.yaml")
    git(hook_repo, "commit", "-q", "-m", "the shipped hooks")
    (git_repo / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {head(hook_repo)}\n"
        "    hooks:\n"
        "      - id: orch-validate-system\n"
    )
    git(git_repo, "add", ".pre-commit-config.yaml")
    git(git_repo, "commit", "-q", "-m", "use the pre-commit framework")
    installed = _pre_commit(git_repo, "install")
    assert installed.returncode == 0, installed.stderr
    return git_repo


def _pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env={**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _framework_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return commit(repo, *args, env={"PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home")})


def test_both_shipped_hooks_run_what_orchs_own_hook_runs() -> None:
    by_id = {hook["id"]: hook for hook in _hooks()}
    assert set(by_id) == {"orch-validate", "orch-validate-system"}
    installing, system = by_id["orch-validate"], by_id["orch-validate-system"]
    assert installing["language"] == "python"
    assert system["language"] == "system"
    same = ("entry", "files", "pass_filenames", "require_serial")
    assert {key: installing[key] for key in same} == {key: system[key] for key in same}
    # orch's own hook script runs `orch hooks run pre-commit` too (hooks/install.py).
    assert installing["entry"] == "orch hooks run pre-commit"


def test_a_reused_id_is_blocked_with_orchs_own_message(framework: Path) -> None:
    stage(framework, {"intents/first.md": draft("shared")})
    first = _framework_commit(framework, "-m", "first")
    assert first.returncode == 0, first.stdout + first.stderr
    before = head(framework)

    stage(framework, {"intents/team/second.md": draft("shared")})
    blocked = _framework_commit(framework, "-m", "clash")
    assert blocked.returncode == 1
    output = (blocked.stdout + blocked.stderr).splitlines()
    assert CLASH in output
    assert BLOCKED in output
    assert head(framework) == before

    # orch's own hook, on the same index, says exactly the same.
    own = subprocess.run(
        ["orch", "hooks", "run", "pre-commit"],
        cwd=framework,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert own.returncode == 1
    assert own.stderr.splitlines() == [CLASH, BLOCKED]


def test_an_invalid_document_is_blocked_and_a_warning_is_not(framework: Path) -> None:
    stage(framework, {"intents/x.md": draft("x", extra="colour: blue\n")})
    blocked = _framework_commit(framework, "-m", "invalid")
    assert blocked.returncode == 1
    assert UNKNOWN_KEY in (blocked.stdout + blocked.stderr).splitlines()

    body = "# X\n\n```bash {step=a}\n{# TODO #}\ntrue\n```\n"
    stage(framework, {"intents/x.md": draft("x", body=body)})
    passed = _framework_commit(framework, "-m", "valid, with a warning")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert git(framework, "show", "HEAD:intents/x.md") == draft("x", body=body)


def test_run_all_files_checks_every_intent_document_of_the_index(framework: Path) -> None:
    broken = draft("broken", extra="colour: blue\n")
    stage(framework, {"intents/broken.md": broken, "intents/fine.md": draft("fine")})
    git(framework, "commit", "-q", "--no-verify", "-m", "skipped the check")
    ran = _pre_commit(framework, "run", "--all-files")
    assert ran.returncode == 1
    lines = ran.stdout.splitlines()
    assert UNKNOWN_KEY.replace("intents/x.md", "intents/broken.md") in lines
    assert BLOCKED in lines
    assert not any("intents/fine.md" in line for line in lines)


def test_orchs_own_hook_and_the_framework_agree_on_a_clean_commit(git_repo: Path) -> None:
    installed(git_repo)
    stage(git_repo, {"intents/first.md": draft("shared")})
    assert commit(git_repo, "-m", "first").returncode == 0
    stage(git_repo, {"intents/team/second.md": draft("shared")})
    blocked = commit(git_repo, "-m", "clash")
    assert blocked.returncode == 1
    assert blocked.stderr.splitlines() == [CLASH, BLOCKED]
