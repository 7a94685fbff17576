from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.process import host_name
from orchestrator.trace import TraceReader, TraceWriter
from orchestrator.trace.recovery import process_alive, process_start_token, recover_dead_runs
from tests.conftest import git
from tests.trace.records import folder, record, run_id

CHILD = """
import os, sys, time
from pathlib import Path
from orchestrator.trace import TraceWriter
from orchestrator.trace.recovery import process_start_token
from tests.trace.records import folder, record

repo, rid = Path(sys.argv[1]), sys.argv[2]
steps = [{"name": "build", "state": "completed"}, {"name": "deploy", "state": "running"}]
me = os.getpid()
rec = record("deploy", rid, pid=me, pid_started=process_start_token(me), steps=steps)
TraceWriter(repo).commit_run("deploy", rid, folder(rec), state="running")
print("started", flush=True)
time.sleep(600)
"""


def test_a_killed_run_is_recorded_failed_and_a_live_one_is_not(git_repo: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    dead = run_id(10, "dead00")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(git_repo), dead],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"

    writer = TraceWriter(git_repo)
    live = run_id(11, "11fe00")
    me = os.getpid()
    writer.commit_run(
        "deploy",
        live,
        folder(record("deploy", live, pid=me, pid_started=process_start_token(me))),
        state="running",
    )
    elsewhere = run_id(12, "e15e00")
    writer.commit_run(
        "deploy", elsewhere, folder(record("deploy", elsewhere, host="other-host")), state="running"
    )
    reader = TraceReader(git_repo)
    assert recover_dead_runs(writer, reader) == []

    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    tip_before = git(git_repo, "rev-parse", "orch-trace").strip()
    assert recover_dead_runs(writer, reader) == [dead]

    failed = reader.read_run(dead)
    assert failed["state"] == "failed"
    assert failed["transitions"][-1]["state"] == "failed"
    assert failed["ended_at"] == failed["transitions"][-1]["at"]
    assert failed["error"] == {
        "step": "deploy",
        "message": f"orch process {child.pid} on {failed['trigger']['host']} died while the run "
        "was running; recorded as failed by a later orch command",
    }
    assert [s["state"] for s in failed["steps"]] == ["completed", "failed"]
    assert reader.read_file(dead, "logs/01-build.log") == b"step output\n"
    assert b"died while the run was running" in reader.read_file(dead, "report.md")
    assert reader.read_run(live)["state"] == "running"
    assert reader.read_run(elsewhere)["state"] == "running"
    assert sorted(reader.open_runs()) == [live, elsewhere]
    assert git(git_repo, "rev-parse", "orch-trace^").strip() == tip_before
    assert (
        git(
            git_repo, "log", "-1", "--format=%(trailers:key=Orch-State,valueonly)", "orch-trace"
        ).strip()
        == "failed"
    )

    assert recover_dead_runs(writer, reader) == []
    assert git(git_repo, "fsck", "--strict", "--no-dangling") == ""


def test_a_reused_pid_does_not_keep_a_dead_run_alive(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    rid = run_id(20)
    me = os.getpid()
    writer.commit_run(
        "nightly", rid, folder(record("nightly", rid, pid=me, pid_started="1")), state="running"
    )
    assert recover_dead_runs(writer, TraceReader(git_repo)) == [rid]
    assert TraceReader(git_repo).read_run(rid)["error"]["step"] == "build"


def test_process_alive() -> None:
    me = os.getpid()
    assert process_alive(me)
    assert process_alive(me, process_start_token(me))
    assert not process_alive(me, "not-my-start-time")
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    time.sleep(0.05)
    assert not process_alive(done.pid)
    assert not process_alive(0)


def test_the_host_runs_record_is_the_name_sockets_give() -> None:
    # Runs are told apart by host and pid: the name must be the one other tools read.
    assert host_name() == socket.gethostname()
