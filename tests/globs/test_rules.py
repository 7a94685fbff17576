"""The glob rules, driven by data files: GitHub's cheat sheet, orch's own decisions, and the
patterns orch refuses with their exact messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from orchestrator.globs import GlobError, PathFilter, compile_glob, matches, pattern_problem

HERE = Path(__file__).parent


def _load(name: str) -> Any:
    return YAML(typ="safe").load((HERE / name).read_text(encoding="utf-8"))


def _cases(name: str) -> list[Any]:
    cases = []
    for row in _load(name):
        patterns = row["patterns"]
        for path in row["matches"]:
            cases.append(pytest.param(patterns, path, True, id=f"{patterns} selects {path}"))
        for path in row["does_not_match"]:
            cases.append(pytest.param(patterns, path, False, id=f"{patterns} skips {path}"))
    return cases


@pytest.mark.parametrize(("patterns", "path", "selected"), _cases("cheatsheet.yaml"))
def test_github_cheat_sheet(patterns: list[str], path: str, selected: bool) -> None:
    assert PathFilter(patterns).selects(path) is selected


@pytest.mark.parametrize(("patterns", "path", "selected"), _cases("rules.yaml"))
def test_orchs_own_decisions(patterns: list[str], path: str, selected: bool) -> None:
    assert PathFilter(patterns).selects(path) is selected


def test_every_cheat_sheet_row_is_exercised_both_ways() -> None:
    rows = _load("cheatsheet.yaml")
    assert len(rows) == 27  # 4 special characters, 8 branch and tag rows, 15 path rows
    assert all(row["matches"] for row in rows)
    # Rows whose examples are "everything" ('**') can have no path they do not match.
    assert [row["patterns"] for row in rows if not row["does_not_match"]] == [["**"], ["**"]]


def test_a_single_pattern_agrees_with_its_filter() -> None:
    for row in _load("cheatsheet.yaml") + _load("rules.yaml"):
        if len(row["patterns"]) == 1 and not row["patterns"][0].startswith("!"):
            (pattern,) = row["patterns"]
            assert all(matches(pattern, path) for path in row["matches"])
            assert not any(matches(pattern, path) for path in row["does_not_match"])


INVALID = _load("invalid.yaml")


@pytest.mark.parametrize(("pattern", "message"), INVALID.items(), ids=list(INVALID))
def test_unreadable_patterns_say_why_and_how_to_fix(pattern: str, message: str) -> None:
    assert pattern_problem(pattern) == message
    with pytest.raises(GlobError) as caught:
        PathFilter(["docs/**", pattern])
    assert str(caught.value) == f"pattern {message}"


def test_readable_patterns_have_no_problem() -> None:
    for row in _load("cheatsheet.yaml") + _load("rules.yaml"):
        assert [p for p in row["patterns"] if pattern_problem(p) is not None] == []


@pytest.mark.parametrize(
    ("pattern", "folder", "literal"),
    [
        ("build/dist/**", "build/dist", None),
        ("build/dist/app.bin", "build/dist", "build/dist/app.bin"),
        ("build", "", "build"),
        ("./build/*.zip", "build", None),
        ("build/v1+/x", "build", None),
        ("build/v1\\+/x", "build/v1+", "build/v1+/x"),
        ("**/x", "", None),
        ("a[bc]/x", "", None),
    ],
)
def test_literal_leading_folders(pattern: str, folder: str, literal: str | None) -> None:
    glob = compile_glob(pattern)
    assert (glob.folder, glob.literal) == (folder, literal)


def test_filters_walk_only_the_folders_their_patterns_can_reach() -> None:
    assert PathFilter(["intents/**/*.md", "intents/a/*.md", "ops/*.md"]).folders() == [
        "intents",
        "ops",
    ]
    assert PathFilter(["intents/**", "!intents/old/**", "**/*.md"]).folders() == [""]
    assert PathFilter(["!x/**"]).folders() == []


def test_long_paths_do_not_make_matching_slow() -> None:
    # Nested repetitions are flattened, so a near miss costs linear work, not exponential.
    pattern = "a+?+?+?+?+?+?+?+?+?+?+?+?b"
    assert compile_glob(pattern).regex.pattern == "a*b"
    assert not matches(pattern, "a" * 5000)
    # Repeated "**/" collapse into one, which could otherwise backtrack polynomially.
    assert compile_glob("**/**/**/**/x").regex.pattern == "(?:.*/)?x"
    assert not matches("**/**/**/**/x", "a/" * 2000 + "y")
