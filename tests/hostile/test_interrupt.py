"""Ctrl-C during ``orch apply``: orch says what it interrupted, stops the step's processes,
records the step ``failed`` ("interrupted", its attempt counted), every later step
``skipped``, the run ``failed`` ("interrupted by the operator during step X"), and exits 130."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.process import process_alive
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch
from tests.hostile.disk import open_runs

FRONT = """
id: demo
title: Demo
status: approved
"""

NOTE = "[orch: interrupted by Ctrl-C; the step's processes were stopped]\n"


def _interrupt_when(
    repo: Path, marker: str, *args: str, ended: str | None = None
) -> tuple[int, str, str]:
    """Start ``orch apply`` as a person would, press Ctrl-C once ``marker`` exists (and, with
    ``ended``, once the process whose pid that file holds has ended)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (repo / marker).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (repo / marker).exists(), "the step never started"
        if ended is not None:
            _wait_until_ended(repo / ended)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    return process.returncode, stdout, stderr


def _wait_until_ended(pid_file: Path) -> None:
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 60
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not process_alive(pid), "the step's process never ended"
    time.sleep(0.3)  # orch reaps it and starts the pause before the next attempt


def without_seconds(lines: list[str]) -> list[str]:
    """Lines of the live display without the elapsed times, which vary."""
    return [re.sub(r"  \d+\.\ds(?=  |$)", "", line) for line in lines]


def _shown(repo: Path, run_id: str) -> dict[str, Any]:
    ran = orch(repo, "show", run_id, "--json")
    assert ran.code == 0, ran.stderr
    shown: dict[str, Any] = ran.json()
    return shown


def test_ctrl_c_during_a_step_is_printed_recorded_and_exits_130(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=first}
echo "first done"
```

```bash {step=slow}
echo "slow started"
sleep 300 &
echo $! > sleeper.pid
touch started.txt
wait
touch finished.txt
```

```bash {step=after}
touch after.txt
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, stdout, stderr = _interrupt_when(git_repo, "started.txt", "--json")
    assert code == 130, stderr
    record = json.loads(stdout)
    run_id = record["run_id"]
    first, slow, after = stderr.splitlines()[:3]
    assert re.fullmatch(r"✓ first  Demo  \d+\.\ds", first), first
    assert re.fullmatch(r"✗ slow  Demo  \d+\.\ds  failed: interrupted", slow), slow
    assert after == "↷ after  Demo  skipped: the run was interrupted during step 'slow'"
    assert stderr.endswith(
        "interrupted by Ctrl-C during step 'slow': its processes were stopped, later steps "
        f"skipped; run {run_id} is recorded as failed\n"
    )
    sleeper = int((git_repo / "sleeper.pid").read_text())
    deadline = time.monotonic() + 10  # a signal is delivered when the process next runs
    while process_alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(sleeper)
    assert not (git_repo / "finished.txt").exists() and not (git_repo / "after.txt").exists()

    shown = _shown(git_repo, run_id)
    assert shown == {**record, "duration_seconds": shown["duration_seconds"]}
    assert shown["state"] == "failed"
    assert shown["error"] == {
        "step": "slow",
        "message": "interrupted by the operator during step 'slow'",
    }
    first, slow, after = shown["steps"]
    assert (first["state"], first["attempts"]) == ("completed", 1)
    assert (slow["state"], slow["attempts"], slow["error"]) == ("failed", 1, "interrupted")
    assert [t["state"] for t in slow["transitions"]] == ["running", "failed"]
    assert slow["exit_code"] is None
    assert (after["state"], after["attempts"]) == ("skipped", 0)
    assert after["skipped_because"] == "the run was interrupted during step 'slow'"
    log = git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/logs/02-slow.log")
    assert log == "slow started\n" + NOTE
    assert open_runs(git_repo) == {}


def test_ctrl_c_during_a_retry_pause_counts_the_attempts_made(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=flaky retries=3 retry_delay=5m}
echo $$ > attempt.pid
echo "try" >> tries.txt
exit 1
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, stdout, stderr = _interrupt_when(git_repo, "tries.txt", "--json", ended="attempt.pid")
    assert code == 130, stderr
    assert (git_repo / "tries.txt").read_text() == "try\n"
    (flaky,) = json.loads(stdout)["steps"]
    assert (flaky["state"], flaky["attempts"], flaky["error"]) == ("failed", 1, "interrupted")
    run_id = json.loads(stdout)["run_id"]
    log = git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/logs/01-flaky.log")
    assert log == "[orch: attempt 1 of 4]\n" + NOTE
    assert _shown(git_repo, run_id)["error"] == {
        "step": "flaky",
        "message": "interrupted by the operator during step 'flaky'",
    }


def test_ctrl_c_before_the_run_starts_runs_nothing(git_repo: Path) -> None:
    """Interrupted while it waits for another run's lock: nothing ran, nothing recorded."""
    body = "# Demo\n\n```bash {step=hold}\ntouch holding.txt\nsleep 300\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    holder = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md"],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (git_repo / "holding.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (git_repo / "holding.txt").unlink()
        waiter = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md"],
            cwd=git_repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert waiter.stderr is not None
        waiting = waiter.stderr.readline()  # said just before it blocks on the lock
        assert waiting.startswith("waiting for run "), waiting
        time.sleep(0.3)
        waiter.send_signal(signal.SIGINT)
        _, stderr = waiter.communicate(timeout=30)
        assert waiter.returncode == 130
        assert stderr == "orch: interrupted by Ctrl-C before the run started: nothing ran\n"
        assert not (git_repo / "holding.txt").exists()
    finally:
        holder.send_signal(signal.SIGINT)
        holder.communicate(timeout=30)
    runs = orch(git_repo, "runs", "--json").json()
    assert [r["state"] for r in runs] == ["failed"]  # only the holder ran
    assert open_runs(git_repo) == {}
    assert [p.name for p in (git_repo / ".orch/runs/demo").iterdir()] == [runs[0]["run_id"]]
