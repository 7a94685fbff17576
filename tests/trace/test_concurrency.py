from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.trace import TraceReader
from tests.conftest import git

WRITERS = 12
RUNS_EACH = 4

SNIPPET = """
import sys, time
from pathlib import Path
from orchestrator.trace import TraceWriter
from tests.trace.records import folder, record

repo, go, me, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
writer = TraceWriter(repo)
while not go.exists():
    time.sleep(0.005)
for n in range(count):
    workflow = f"wf{me % 3}"
    rid = f"20261125T2215{n:02d}Z-{me:03d}{n:03d}"
    writer.commit_run(workflow, rid, folder(record(workflow, rid)), state="running")
    done = record(workflow, rid, "completed")
    writer.commit_run(workflow, rid, folder(done), state="completed")
"""


def test_twelve_processes_writing_at_once_lose_nothing(git_repo: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SNIPPET, str(git_repo), str(go), str(i), str(RUNS_EACH)],
            cwd=root,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    time.sleep(0.5)
    go.write_text("go")
    for proc in procs:
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err

    expected = {
        f"20261125T2215{n:02d}Z-{i:03d}{n:03d}" for i in range(WRITERS) for n in range(RUNS_EACH)
    }
    runs = TraceReader(git_repo).list_runs(limit=None)
    assert {r["run_id"] for r in runs} == expected
    assert {r["state"] for r in runs} == {"completed"}
    assert git(git_repo, "rev-list", "--count", "orch-trace").strip() == str(2 * len(expected))
    trailers = git(git_repo, "log", "--format=%(trailers:key=Orch-Run,valueonly)", "orch-trace")
    assert {line for line in trailers.splitlines() if line} == expected
    assert json.loads(git(git_repo, "show", "orch-trace:open-runs.json"))["runs"] == {}
    assert git(git_repo, "fsck", "--strict", "--no-dangling") == ""
    assert git(git_repo, "status", "--porcelain") == ""
