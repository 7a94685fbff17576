"""Discovery walks the real file tree once: which files the ``intents`` patterns select, what
the walk never enters, and symbolic links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.document import discover
from orchestrator.errors import UsageError
from tests.conftest import build_file_tree

TREE = [
    "intents/a.md",
    "intents/README.md",
    "intents/.hidden.md",
    "intents/team/b.md",
    "intents/drafts/c.md",
    "intents/notes.txt",
    "ops/deploy.md",
    "docs/guide.md",
    ".github/workflows/ci.md",
    ".git/info/x.md",
    ".orch/runs/r.md",
    "vendor/lib/.git/y.md",
    "vendor/lib/z.md",
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    build_file_tree(tmp_path, dict.fromkeys(TREE, "text\n"))
    os.symlink(tmp_path / "docs", tmp_path / "intents" / "linked-folder")
    os.symlink(tmp_path / "docs" / "guide.md", tmp_path / "intents" / "linked-file.md")
    os.symlink(tmp_path / "missing.md", tmp_path / "intents" / "broken.md")
    return tmp_path


def _found(root: Path, patterns: list[str]) -> list[str]:
    return [path.relative_to(root).as_posix() for path in discover(root, patterns)]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (
            ["intents/**/*.md"],
            [
                "intents/.hidden.md",
                "intents/a.md",
                "intents/drafts/c.md",
                "intents/linked-file.md",
                "intents/team/b.md",
            ],
        ),
        (
            ["intents/**/*.md", "!intents/drafts/**", "!intents/.*"],
            ["intents/a.md", "intents/linked-file.md", "intents/team/b.md"],
        ),
        (
            ["intents/*.md", "ops/*.md"],
            ["intents/.hidden.md", "intents/a.md", "intents/linked-file.md", "ops/deploy.md"],
        ),
        (
            ["**.md"],
            [
                ".github/workflows/ci.md",
                "docs/guide.md",
                "intents/.hidden.md",
                "intents/a.md",
                "intents/drafts/c.md",
                "intents/linked-file.md",
                "intents/team/b.md",
                "ops/deploy.md",
                "vendor/lib/z.md",
            ],
        ),
        (["intents/*.txt"], ["intents/notes.txt"]),
        (["nowhere/**"], []),
    ],
)
def test_discovery_selects_files_by_the_patterns(
    tree: Path, patterns: list[str], expected: list[str]
) -> None:
    # Never: README.md, anything in .git/ or .orch/ at any depth, a folder reached through a
    # symbolic link (intents/linked-folder/guide.md), a link to nothing.
    assert _found(tree, patterns) == expected


def test_an_unreadable_intents_pattern_is_a_usage_error(tree: Path) -> None:
    with pytest.raises(UsageError) as caught:
        discover(tree, ["intents/**/*.md", "intents/[a"])
    assert str(caught.value) == (
        "setting 'intents' pattern 'intents/[a' never closes the character class '[a' opens: "
        "close it with ']', or write '\\[' to match '[' itself"
    )
