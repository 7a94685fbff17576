"""``kill -9`` of orch during a step: the next orch command records the run ``failed`` naming
the step, and stops every process that step left running (its process group, and whatever
carries the run's and step's markers), but not what earlier, finished steps left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.process import process_alive, process_start_token, stop_leftovers
from tests.core.helpers import commit_documents, document, orch
from tests.hostile.disk import open_runs

FRONT = """
id: demo
title: Demo
status: approved
"""

BODY = """
# Demo

```bash {step=service}
nohup sleep 303 > /dev/null 2>&1 &
echo $! > service.pid
```

```bash {step=slow}
sleep 300 &
echo $! > sleeper.pid
setsid sleep 301 &
echo $! > escaped.pid
env -i sleep 302 &
echo $! > scrubbed.pid
echo $$ > leader.pid
wait
```

```bash {step=after}
echo "never runs"
```
"""

PID_FILES = ("leader.pid", "sleeper.pid", "escaped.pid", "scrubbed.pid")


def _gone(pid: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)


def _read_pid(path: Path, deadline: float) -> int:
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path.name} was never written")


def test_recovery_stops_the_dead_runs_step_processes_and_records_it_failed(
    git_repo: Path,
) -> None:
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, BODY)})
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md"],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    service = 0
    try:
        pids = {name: _read_pid(git_repo / name, deadline) for name in PID_FILES}
        service = _read_pid(git_repo / "service.pid", deadline)
        os.kill(process.pid, signal.SIGKILL)  # orch alone: the steps have their own sessions
        process.wait(timeout=10)
        assert all(process_alive(pid) for pid in pids.values()), "left running by the dead orch"

        listed = orch(git_repo, "runs", "--json")
        assert listed.code == 0, listed.stderr
        (run,) = listed.json()
        assert run["state"] == "failed"
        assert run["error"] == {
            "step": "slow",
            "message": f"orch process {process.pid} on {run['trigger']['host']} died while the "
            "run was running; recorded as failed by a later orch command",
        }
        assert [(s["name"], s["state"]) for s in run["steps"]] == [
            ("service", "completed"),
            ("slow", "failed"),
            ("after", "skipped"),
        ]
        assert run["steps"][1]["error"] == "orch died during this step"
        assert run["steps"][2]["skipped_because"] == "orch died before this step"
        for name, pid in pids.items():
            assert _gone(pid, time.monotonic() + 10), f"{name} ({pid}) still runs"
        stopped = listed.stderr.split("left running: ", 1)[1].split()
        assert {int(pid) for pid in stopped} >= set(pids.values()), listed.stderr
        assert f"step 'slow' of dead run {run['run_id']}" in listed.stderr
        # What a finished step started on purpose is left alone.
        assert process_alive(service)
        assert open_runs(git_repo) == {}
        again = orch(git_repo, "runs", "--json")
        assert again.json()[0]["state"] == "failed" and "left running" not in again.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if service:
            with contextlib.suppress(ProcessLookupError):
                os.kill(service, signal.SIGKILL)


def test_a_dead_run_is_closed_from_the_trace_alone_when_its_local_folder_is_lost(
    git_repo: Path,
) -> None:
    body = "# Demo\n\n```bash {step=slow}\necho $$ > leader.pid\nexec sleep 300\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md"],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    leader = _read_pid(git_repo / "leader.pid", time.monotonic() + 60)
    try:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        for folder in (git_repo / ".orch/runs/demo").iterdir():
            for item in folder.rglob("*"):
                if item.is_file():
                    item.unlink()
        listed = orch(git_repo, "runs", "--json")
        (run,) = listed.json()
        assert run["state"] == "failed"
        # Only the trace's start commit is left: every step was pending there.
        assert run["error"] == {
            "step": None,
            "message": f"orch process {process.pid} on {run['trigger']['host']} died while the "
            "run was running; recorded as failed by a later orch command (this host had no "
            "record of the steps' progress)",
        }
        assert [s["state"] for s in run["steps"]] == ["pending"]  # whether it ran is unknown
        assert open_runs(git_repo) == {}
        # Which step ran is unknown: nothing is stopped on a guess.
        assert process_alive(leader)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader, signal.SIGKILL)


def _sleeper(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sleep", "60"], env=env if env is not None else os.environ, start_new_session=True
    )


def test_a_recorded_group_counts_only_while_its_leader_is_the_same_process() -> None:
    stranger = _sleeper()
    try:
        time.sleep(0.05)
        reused = [(stranger.pid, "not-its-start-time")]
        assert stop_leftovers(reused, {}, grace=0.2) == []
        assert stranger.poll() is None
        recorded = [(stranger.pid, process_start_token(stranger.pid))]
        assert stop_leftovers(recorded, {}, grace=2) == [stranger.pid]
        assert stranger.wait(timeout=5) == -signal.SIGTERM
    finally:
        with contextlib.suppress(ProcessLookupError):
            stranger.kill()
        stranger.wait()


def test_markers_find_the_steps_processes_and_only_them() -> None:
    base = {"PATH": os.environ["PATH"], "ORCH_RUN_ID": "20261201T000000Z-abcdef"}
    mine = _sleeper({**base, "ORCH_STEP": "deploy"})
    other_step = _sleeper({**base, "ORCH_STEP": "start-service"})
    other_run = _sleeper({**base, "ORCH_RUN_ID": "20261201T000000Z-000000", "ORCH_STEP": "deploy"})
    try:
        time.sleep(0.1)
        markers = {"ORCH_RUN_ID": "20261201T000000Z-abcdef", "ORCH_STEP": "deploy"}
        assert stop_leftovers([], markers, grace=2) == [mine.pid]
        assert mine.wait(timeout=5) == -signal.SIGTERM
        assert other_step.poll() is None and other_run.poll() is None
    finally:
        for child in (mine, other_step, other_run):
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            child.wait()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    stubborn = subprocess.Popen(
        ["bash", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
        env={"PATH": os.environ["PATH"], "ORCH_RUN_ID": "r-stubborn", "ORCH_STEP": "s"},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        started = time.monotonic()
        stopped = stop_leftovers([], {"ORCH_RUN_ID": "r-stubborn", "ORCH_STEP": "s"}, grace=0.5)
        assert stubborn.pid in stopped
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - started >= 0.5
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stubborn.pid, signal.SIGKILL)
        stubborn.wait()
