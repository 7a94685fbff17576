"""Every example in ``intents/`` is validated and run, as a user would, in a fresh repository."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git
from tests.core.helpers import orch
from tests.ports import unused_port

INTENTS = Path(__file__).resolve().parents[2] / "intents"
EXAMPLES = sorted(path.name for path in INTENTS.glob("*.md"))


# Flags each example needs to run unattended in a test: nothing that weakens a check.
RUN_FLAGS: dict[str, Callable[[], list[str]]] = {
    "release-checklist.md": lambda: ["--allow-draft", "--confirm", "sign-off"],
    "local-service.md": lambda: ["-i", f"port={unused_port()}"],
}


@pytest.fixture
def examples_repo(git_repo: Path) -> Path:
    shutil.copytree(INTENTS, git_repo / "intents")
    git(git_repo, "add", "intents")
    git(git_repo, "commit", "-q", "-m", "examples")
    return git_repo


def test_there_are_at_least_three_examples() -> None:
    assert len(EXAMPLES) >= 3


def test_every_example_is_valid(examples_repo: Path) -> None:
    ran = orch(examples_repo, "validate")
    assert ran.code == 0, ran.stdout + ran.stderr


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_runs(examples_repo: Path, name: str) -> None:
    flags = RUN_FLAGS.get(name, list)()
    ran = orch(examples_repo, "apply", f"intents/{name}", *flags, "--json")
    assert ran.code == 0, ran.stderr
    record = ran.json()
    assert record["state"] == "completed"
    assert all(step["state"] in ("completed", "skipped") for step in record["steps"])
    # With no DropBoxMini configured, packages go to the embedded store: nothing is pending.
    assert [a["publication"]["state"] for a in record["artifacts"]] == ["published"] * len(
        record["artifacts"]
    )
    branch = git(examples_repo, "log", "--format=%s", "orch-trace")
    assert f"{record['run_id']} completed" in branch
    assert git(examples_repo, "status", "--porcelain", "--untracked-files=no") == ""
