"""Every ``cases/NAME.md`` parses to exactly what ``cases/NAME.expected`` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from .casefiles import CASES, outcome

CASE_FILES = sorted(CASES.glob("*.md"))


def test_there_are_cases() -> None:
    assert len(CASE_FILES) >= 20


@pytest.mark.parametrize("case", CASE_FILES, ids=[c.stem for c in CASE_FILES])
def test_case(case: Path) -> None:
    expected = case.with_suffix(".expected")
    assert expected.exists(), f"{expected.name} is missing: run python tests/document/casefiles.py"
    assert outcome(case) == expected.read_text(encoding="utf-8")
