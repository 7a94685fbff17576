"""The commands that need a broker say so, in the same words, when none is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.helpers import orch

NO_BROKER = (
    "orch: no broker is configured: pass --broker or set ORCH_BROKER_URL (or 'broker' in "
    "orch's configuration)\n"
)


@pytest.mark.parametrize("command", [["worker", "--repo", "/srv/git/ops.git"], ["workers"]])
def test_a_command_that_needs_a_broker_names_both_ways_to_give_one(
    git_repo: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCH_BROKER_URL", raising=False)
    refused = orch(git_repo, *command)
    assert (refused.code, refused.stdout, refused.stderr) == (2, "", NO_BROKER)
