"""Ctrl-C and cleanup steps: after Ctrl-C, steps whose ``if`` calls ``always()`` or
``cancelled()`` still run (each within its own timeout); a second Ctrl-C stops them and
everything after them. Real ``orch apply`` processes and real signals."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.process import process_alive
from tests.conftest import git
from tests.core.helpers import commit_documents, document
from tests.hostile.disk import open_runs
from tests.hostile.test_interrupt import NOTE, without_seconds

FRONT = """
id: demo
title: Demo
status: approved
"""

SLOW = """
```bash {step=slow}
sleep 300 &
echo $! > sleeper.pid
touch started.txt
wait
```
"""


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path.name} never appeared"


def _interrupt(repo: Path, *markers: str) -> tuple[int, dict[str, Any], str]:
    """Run ``orch apply --json``; press Ctrl-C once each marker file exists, in turn."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md", "--json"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        for marker in markers:
            _wait_for(repo / marker)
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    return process.returncode, json.loads(stdout), stderr


def _stopped(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not process_alive(pid)


def test_ctrl_c_runs_the_cleanup_steps_and_still_records_the_interruption(
    git_repo: Path,
) -> None:
    body = f"""
# Demo
{SLOW}
```bash {{step=plain}}
touch plain.txt
```

```bash {{step=on-failure if="failure()"}}
touch failure.txt
```

```bash {{step=on-cancel if="cancelled() and steps.slow.state == 'failed'"}}
echo "slow was {{{{ steps.slow.state }}}}" > cancelled.txt
```

```bash {{step=stop if="always()"}}
kill "$(cat sleeper.pid)" 2>/dev/null || true
echo "stopped"
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record, stderr = _interrupt(git_repo, "started.txt")
    assert code == 130, stderr
    run_id = record["run_id"]
    lines = without_seconds(stderr.splitlines())
    assert lines[:7] == [
        "✗ slow  Demo  failed: interrupted",
        "↷ plain  Demo  skipped: the run was interrupted during step 'slow'",
        "↷ on-failure  Demo  skipped: if: failure() was false",
        "Ctrl-C: step 'on-cancel' runs all the same (if: cancelled() and steps.slow.state == "
        "'failed'); press Ctrl-C again to stop it",
        "✓ on-cancel  Demo",
        "Ctrl-C: step 'stop' runs all the same (if: always()); press Ctrl-C again to stop it",
        "✓ stop  Demo",
    ]
    assert stderr.endswith(
        "interrupted by Ctrl-C during step 'slow': its processes were stopped, steps "
        "'on-cancel' (completed), 'stop' (completed) ran all the same, the other later steps "
        f"were skipped; run {run_id} is recorded as failed\n"
    )
    assert (git_repo / "cancelled.txt").read_text() == "slow was failed\n"
    assert not (git_repo / "plain.txt").exists() and not (git_repo / "failure.txt").exists()
    assert _stopped(git_repo / "sleeper.pid")

    steps = {step["name"]: step for step in record["steps"]}
    assert (steps["slow"]["state"], steps["slow"]["error"]) == ("failed", "interrupted")
    assert [steps[n]["state"] for n in ("plain", "on-failure", "on-cancel", "stop")] == [
        "skipped",
        "skipped",
        "completed",
        "completed",
    ]
    assert record["state"] == "failed"
    assert record["error"] == {
        "step": "slow",
        "message": "interrupted by the operator during step 'slow'",
    }
    log = git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/logs/05-stop.log")
    assert log == "stopped\n"
    assert git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/logs/01-slow.log") == NOTE
    assert open_runs(git_repo) == {}


def test_a_second_ctrl_c_stops_the_cleanup_and_everything_after_it(git_repo: Path) -> None:
    body = f"""
# Demo
{SLOW}
```bash {{step=cleanup if="always()"}}
sleep 300 &
echo $! > cleanup.pid
touch cleaning.txt
wait
touch cleaned.txt
```

```bash {{step=last if="always()"}}
touch last.txt
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record, stderr = _interrupt(git_repo, "started.txt", "cleaning.txt")
    assert code == 130, stderr
    steps = {step["name"]: step for step in record["steps"]}
    assert (steps["cleanup"]["state"], steps["cleanup"]["error"]) == ("failed", "interrupted")
    assert steps["cleanup"]["attempts"] == 1
    assert steps["last"]["state"] == "skipped"
    assert steps["last"]["skipped_because"] == (
        "a second Ctrl-C stopped the run during step 'cleanup'"
    )
    assert record["error"] == {
        "step": "slow",
        "message": "interrupted by the operator during step 'slow'",
    }
    assert stderr.endswith(
        "interrupted by Ctrl-C during step 'slow': its processes were stopped, step 'cleanup' "
        "(stopped by a second Ctrl-C) ran all the same, the other later steps were skipped; "
        f"run {record['run_id']} is recorded as failed\n"
    )
    assert _stopped(git_repo / "sleeper.pid") and _stopped(git_repo / "cleanup.pid")
    assert not (git_repo / "cleaned.txt").exists() and not (git_repo / "last.txt").exists()
    log = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/logs/02-cleanup.log")
    assert log == NOTE
    assert open_runs(git_repo) == {}


def test_a_cleanup_after_ctrl_c_is_bounded_by_its_own_timeout(git_repo: Path) -> None:
    body = f"""
# Demo
{SLOW}
```bash {{step=cleanup if="always()" timeout=1s}}
sleep 300
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    started = time.monotonic()
    code, record, stderr = _interrupt(git_repo, "started.txt")
    assert time.monotonic() - started < 30
    assert code == 130, stderr
    (_, cleanup) = record["steps"]
    assert cleanup["state"] == "failed"
    assert cleanup["error"] == "timed out after 1s; its whole process tree was stopped"
    assert record["error"]["message"] == "interrupted by the operator during step 'slow'"
    assert "step 'cleanup' (failed) ran all the same" in stderr


RACE = """
import os, signal, subprocess, sys
from pathlib import Path

from orchestrator import masking, process

class LateCtrlC(subprocess.Popen):
    # Ctrl-C arrives just as the step's process has started, before Popen returns.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Path(sys.argv[1]).write_text(str(self.pid))
        os.kill(os.getpid(), signal.SIGINT)

subprocess.Popen = LateCtrlC
try:
    process.run(
        ["sleep", "300"], cwd=Path.cwd(), env=dict(os.environ), timeout=60,
        masker=masking.Masker(),
    )
except process.Interrupted:
    print("interrupted")
"""


def test_ctrl_c_while_a_step_starts_stops_its_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    done = subprocess.run(
        [sys.executable, "-c", RACE, str(pid_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "interrupted\n"), done.stderr
    assert _stopped(pid_file)
