"""The messages docs/diagnostics.md shows for template names and YAML mistakes are the ones
the golden cases (``cases/*.expected``) get, word for word."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .casefiles import CASES

DOC = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"
SECTIONS = ("## Names in templates", "## YAML messages")


def _documented_messages() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    messages = []
    for title in SECTIONS:
        section = text.split(title, 1)[1].split("\n## ", 1)[0]
        for line in section.splitlines():
            cells = re.split(r"(?<!\\)\|", line)
            if len(cells) < 4 or set(cells[2].strip()) <= {"-"} or cells[2].strip() == "":
                continue
            found = re.search(r"`([^`]+)`", cells[2])
            if found is not None and not cells[2].strip().startswith("message"):
                messages.append(found.group(1).replace("\\|", "|"))
    return messages


MESSAGES = _documented_messages()
EXPECTED = [
    line.split(": ", 1)[1]
    for case in sorted(CASES.glob("*.expected"))
    for line in case.read_text(encoding="utf-8").splitlines()
    if re.match(r"^[\w.-]+\.md:\d+:\d+: ", line)
]


def test_the_tables_are_read() -> None:
    assert len(MESSAGES) >= 25


@pytest.mark.parametrize("message", MESSAGES)
def test_a_documented_message_is_what_a_case_gets(message: str) -> None:
    assert any(line.endswith(message) for line in EXPECTED), message
