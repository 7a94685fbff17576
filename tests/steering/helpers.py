"""Helpers for tests that steer runs: ``orch`` in the background, waiting for what it records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.core.helpers import orch

T = TypeVar("T")
PERSON = "Test Person <test@example.invalid>"


def start(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``orch ARGS`` as a background process (no terminal), its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=repo,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def eventually(find: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    """The first non-None (and not False) value ``find`` returns within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found is not None and found is not False:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def runs(repo: Path, *args: str) -> list[dict[str, Any]]:
    ran = orch(repo, "runs", "--json", *args)
    assert ran.code == 0, ran.stderr
    found: list[dict[str, Any]] = json.loads(ran.stdout)
    return found


def run_in_state(repo: Path, state: str, workflow: str) -> str:
    """The id of the run of ``workflow`` the trace lists in ``state`` (waiting for it)."""

    def find() -> str | None:
        for record in runs(repo, "--state", state, "--workflow", workflow):
            return str(record["run_id"])
        return None

    return eventually(find, f"a {state} run of {workflow}")


def shown(repo: Path, run_id: str) -> dict[str, Any]:
    ran = orch(repo, "show", run_id, "--json")
    assert ran.code == 0, ran.stderr
    record: dict[str, Any] = json.loads(ran.stdout)
    return record


def step_of(record: dict[str, Any], name: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in record["steps"] if s["name"] == name)
    return step


def states(entries: list[dict[str, Any]]) -> list[str]:
    return [str(t["state"]) for t in entries]
