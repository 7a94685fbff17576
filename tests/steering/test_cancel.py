"""``orch cancel`` of a running run: the running step's whole process tree is stopped (TERM,
then KILL), the step is recorded ``cancelled`` with who cancelled it, later steps are
skipped, and the run ends ``cancelled``."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from orchestrator.process import process_alive
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch
from tests.steering.helpers import (
    PERSON,
    eventually,
    run_in_state,
    runs,
    shown,
    start,
    states,
    step_of,
)

FRONT = "id: sleepy\ntitle: Sleepy\nstatus: approved\n"
BODY = """
# Sleepy

```bash {step=first}
echo "first done"
```

```bash {step=wait}
sleep 300 &
echo $! > child.pid
trap '' TERM
setsid sleep 301 &
echo $! > escaped.pid
echo $$ > leader.pid
echo "waiting for ever"
wait
```

```bash {step=never}
touch never.txt
```
"""


def _pid(path: Path) -> int:
    def read() -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(path.read_text())
        return None

    return eventually(read, path.name)


def test_cancel_stops_the_running_steps_process_tree(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/sleepy.md": document(FRONT, BODY)})
    applying = start(git_repo, "apply", "intents/sleepy.md")
    pids = {name: _pid(git_repo / f"{name}.pid") for name in ("leader", "child", "escaped")}
    assert all(process_alive(pid) for pid in pids.values())
    run_id = run_in_state(git_repo, "running", "sleepy")

    started = time.monotonic()
    cancelled = orch(git_repo, "cancel", run_id)
    assert cancelled.code == 0, cancelled.stderr
    assert (
        cancelled.stdout == f"run {run_id} cancelled (cancelled by {PERSON} during step 'wait')\n"
    )
    # The leader ignores TERM: KILL follows after the two-second grace.
    assert time.monotonic() - started < 15
    # The step's session is gone, as after a timeout or Ctrl-C; a process that left it with
    # setsid is not stopped (what a step starts on purpose outside its session is its own).
    assert not process_alive(pids["leader"])
    assert not process_alive(pids["child"])
    assert process_alive(pids["escaped"])
    _, printed = applying.communicate(timeout=30)
    assert applying.returncode == 1
    assert f"cancelled step 'wait': cancelled by {PERSON} during step 'wait'" in printed

    record = shown(git_repo, run_id)
    assert record["state"] == "cancelled"
    assert states(record["transitions"]) == ["pending", "running", "cancelled"]
    wait = step_of(record, "wait")
    assert wait["state"] == "cancelled"
    assert wait["error"] == f"cancelled by {PERSON}"
    assert wait["answer"]["action"] == "cancel"
    assert step_of(record, "first")["state"] == "completed"
    never = step_of(record, "never")
    assert (never["state"], never["skipped_because"]) == (
        "skipped",
        "the run was cancelled during step 'wait'",
    )
    assert not (git_repo / "never.txt").exists()
    log = git(git_repo, "show", f"orch-trace:runs/sleepy/{run_id}/logs/02-wait.log")
    assert log == (
        f"waiting for ever\n[orch: cancelled by {PERSON}; the step's processes were stopped]\n"
    )
    assert [r["run_id"] for r in runs(git_repo, "--state", "cancelled")] == [run_id]
    again = orch(git_repo, "cancel", run_id)
    assert again.code == 2
    assert again.stderr == f"orch: run {run_id} has ended (cancelled): there is nothing to cancel\n"
    os.kill(pids["escaped"], signal.SIGKILL)


def test_cancel_of_an_unknown_run_says_so(git_repo: Path) -> None:
    commit_documents(
        git_repo, {"intents/sleepy.md": document(FRONT, "# S\n\n```bash {step=a}\ntrue\n```\n")}
    )
    assert orch(git_repo, "apply", "intents/sleepy.md").code == 0
    missing = orch(git_repo, "cancel", "20990101T000000Z-abcdef")
    assert missing.code == 2
    assert missing.stderr.startswith("orch: no run '20990101T000000Z-abcdef' in the trace")
