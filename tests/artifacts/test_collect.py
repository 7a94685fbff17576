"""Which files an artifact's ``files`` patterns bring, and their payload names, on real trees
(the whole path through ``orch apply`` is in test_artifacts.py and tests/globs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.artifacts.collect import collect
from orchestrator.errors import PublishError
from tests.conftest import build_file_tree

TREE = [
    "out/a.txt",
    "out/.env",
    "out/sub/run.sh",
    "out/sub/map.js.map",
    "out/v1.2/notes.md",
    "build/dist/app.bin",
    "README.md",
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    build_file_tree(tmp_path, dict.fromkeys(TREE, "x\n"))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "a.txt").write_text("git's own\n")
    return tmp_path


def _payload(workdir: Path, *patterns: str) -> dict[str, str]:
    return {
        item.name: item.source.relative_to(workdir).as_posix()
        for item in collect(workdir, patterns, "bundle.zip")
    }


@pytest.mark.parametrize(
    ("patterns", "payload"),
    [
        # The literal leading folders are dropped; a matching folder brings what is below it.
        (["build/dist/**"], {"app.bin": "build/dist/app.bin"}),
        (["build/dist"], {"dist/app.bin": "build/dist/app.bin"}),
        (["build/dist/app.bin"], {"app.bin": "build/dist/app.bin"}),
        (
            ["out/*"],
            {
                ".env": "out/.env",
                "a.txt": "out/a.txt",
                "sub/run.sh": "out/sub/run.sh",
                "sub/map.js.map": "out/sub/map.js.map",
                "v1.2/notes.md": "out/v1.2/notes.md",
            },
        ),
        # Exclusions take out again what the patterns before them brought, in order.
        (["out/*", "!out/*/**"], {".env": "out/.env", "a.txt": "out/a.txt"}),
        (
            ["out/**", "!out/**/*.map", "!out/.*", "!out/v*/**"],
            {"a.txt": "out/a.txt", "sub/run.sh": "out/sub/run.sh"},
        ),
        (
            ["out/**", "!out/sub/**", "out/sub/run.sh"],
            {
                ".env": "out/.env",
                "a.txt": "out/a.txt",
                "run.sh": "out/sub/run.sh",
                "v1.2/notes.md": "out/v1.2/notes.md",
            },
        ),
        # GitHub's '+' and escapes: "v1.2+" is "v1." then one or more "2"; a folder with a
        # wildcard is not literal, so it stays in the payload name.
        (["out/v1.2+/*.md"], {"v1.2/notes.md": "out/v1.2/notes.md"}),
        (["out/v1\\.2/*.md"], {"notes.md": "out/v1.2/notes.md"}),
        # A wildcard never reaches into .git/.
        (["*/a.txt"], {"out/a.txt": "out/a.txt"}),
    ],
)
def test_patterns_bring_files_under_their_payload_names(
    workdir: Path, patterns: list[str], payload: dict[str, str]
) -> None:
    assert _payload(workdir, *patterns) == payload


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (
            ["out/[ab"],
            "artifact 'bundle.zip': files pattern 'out/[ab' never closes the character class "
            "'[ab' opens: close it with ']', or write '\\[' to match '[' itself",
        ),
        (
            ["out/*", "!"],
            "artifact 'bundle.zip': files pattern '!' excludes nothing: write '!<glob>'",
        ),
        (
            ["../x"],
            "artifact 'bundle.zip': files pattern '../x' has a '..' folder: patterns name paths "
            "from the repository root down and never reach outside the working tree",
        ),
        (
            [".git/*"],
            "artifact 'bundle.zip': files pattern '.git/*': .git is inside .git/, which orch "
            "never writes to",
        ),
        (
            [".orch"],
            "artifact 'bundle.zip': files pattern '.orch': .orch is inside .orch/, which orch "
            "never writes to",
        ),
        (
            ["out/**", "!out/**"],
            "artifact 'bundle.zip': the '!' patterns of files ['out/**', '!out/**'] exclude "
            "every file the others match; narrow the exclusions",
        ),
        (
            ["out/**", "build/dist/app.bin", "out/a.txt", "nothing/*"],
            "artifact 'bundle.zip': files pattern 'nothing/*' matches nothing in {workdir}; "
            "check the path, or that an earlier step produced it",
        ),
        (
            ["out/**", "build/**"],
            "artifact 'bundle.zip': two files would both be payload/dist/app.bin",
        ),
    ],
)
def test_bad_patterns_fail_with_the_reason(
    workdir: Path, patterns: list[str], message: str
) -> None:
    build_file_tree(workdir, {"out/dist/app.bin": "clash\n"})
    with pytest.raises(PublishError) as caught:
        collect(workdir, tuple(patterns), "bundle.zip")
    assert str(caught.value).startswith(message.format(workdir=workdir))


def test_a_link_out_of_the_tree_is_refused(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("not ours\n")
    os.symlink(outside, workdir / "out" / "sub" / "secret.txt")
    with pytest.raises(PublishError) as caught:
        collect(workdir, ("out/sub/*",), "bundle.zip")
    assert str(caught.value) == (
        f"artifact 'bundle.zip': out/sub/secret.txt resolves outside the working tree {workdir}"
    )
