"""A cancel behaves like Ctrl-C towards the status functions: ``cancelled()`` becomes true,
the step it cut short is ``cancelled``, steps whose ``if`` calls ``always()`` or
``cancelled()`` still run (each within its own timeout), the others are skipped with the
reason, and the run ends ``cancelled``. A second cancel (or Ctrl-C) stops the cleanup.
Real ``orch serve``, ``orch apply``, ``orch cancel`` and git hook processes."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.api.answers import encode_answer
from orchestrator.process import process_alive
from orchestrator.record import Answer, utc_now
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch
from tests.steering.helpers import (
    PERSON,
    eventually,
    run_in_state,
    shown,
    start,
    states,
    step_of,
)
from tests.steering.test_waiting import _commit_through_hook
from tests.web.conftest import READ, RUN, RUN_KEY, Served, isolated_env, login, start_serve

CLEANUP = document(
    """
id: cleanup
title: Cleanup
status: approved
inputs:
  dir:
    type: string
    required: true
""",
    """
# Cleanup

```bash {step=work}
echo "working"
touch "$ORCH_INPUT_DIR/working"
sleep 300
```

```bash {step=plain}
touch "$ORCH_INPUT_DIR/plain"
```

```bash {step=on-failure if="failure()"}
touch "$ORCH_INPUT_DIR/failure"
```

```bash {step=on-cancel if="cancelled()" timeout=60s}
echo "work was {{ steps.work.state }}"
touch "$ORCH_INPUT_DIR/cleaning"
while [ ! -e "$ORCH_INPUT_DIR/gate" ]; do sleep 0.05; done
echo "cleaned"
```

```bash {step=stop if="always()"}
echo "stopped"
```
""",
)
BOT = "release-bot"
CUT_NOTE = "[orch: cancelled by {}; the step's processes were stopped]\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("cleanup")
    env = isolated_env(base / "home")
    repo = base / "repo"
    (repo / "intents").mkdir(parents=True)
    (repo / "intents" / "cleanup.md").write_text(CLEANUP)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "documents"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    server = start_serve(repo, env, base / "serve.log")
    try:
        yield server
    finally:
        server.stop()


def _record(client: httpx.Client, run_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/runs/{run_id}", headers=READ)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_queued_run_cancelled_during_a_step_runs_its_cleanup(
    served: Served, tmp_path: Path
) -> None:
    with served.client() as client:
        queued = client.post(
            "/api/runs", headers=RUN, json={"workflow": "cleanup", "inputs": {"dir": str(tmp_path)}}
        )
        assert queued.status_code == 202, queued.text
        run_id = queued.json()["runId"]
        eventually(lambda: (tmp_path / "working").exists(), "step 'work' to start")

        answer = client.post(f"/api/runs/{run_id}/cancel", headers=RUN)
        # The answer comes once the run took the cancel and its cleanup runs.
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "runId": run_id,
            "answer": "cancel",
            "step": None,
            "by": BOT,
            "state": "running",
            "detail": None,
            "cleanup": ["on-cancel"],
        }
        eventually(lambda: (tmp_path / "cleaning").exists(), "the cleanup step to run")
        cleaning = _record(client, run_id)
        assert cleaning["state"] == "running"
        assert cleaning["cancelled"]["by"] == BOT
        assert step_of(cleaning, "work")["state"] == "cancelled"
        assert step_of(cleaning, "on-cancel")["state"] == "running"
        # The run's page offers to stop the cleanup, not to cancel the run again.
        with served.client() as browser:
            login(browser, RUN_KEY)
            page = browser.get(f"/runs/{run_id}").text
        assert ">Stop cleanup</button>" in page
        assert ">Cancel run</button>" not in page

        (tmp_path / "gate").write_text("open")
        record = eventually(
            lambda: (r := _record(client, run_id))["state"] == "cancelled" and r, "the run's end"
        )
    assert states(record["transitions"]) == ["pending", "running", "cancelled"]
    assert record["error"] == {"step": "work", "message": f"cancelled by {BOT} during step 'work'"}
    assert record["cancelled"]["by"] == BOT
    assert {s["name"]: (s["state"], s.get("skipped_because")) for s in record["steps"]} == {
        "work": ("cancelled", None),
        "plain": ("skipped", "the run was cancelled during step 'work'"),
        "on-failure": ("skipped", "if: failure() was false"),
        "on-cancel": ("completed", None),
        "stop": ("completed", None),
    }
    work = step_of(record, "work")
    assert (work["error"], work["answer"]["by"]) == (f"cancelled by {BOT}", BOT)
    assert not (tmp_path / "plain").exists() and not (tmp_path / "failure").exists()
    logs = {
        name: git(served.repo, "show", f"orch-trace:runs/cleanup/{run_id}/logs/{name}.log")
        for name in ("01-work", "04-on-cancel", "05-stop")
    }
    assert logs == {
        "01-work": "working\n" + CUT_NOTE.format(BOT),
        "04-on-cancel": "work was cancelled\ncleaned\n",
        "05-stop": "stopped\n",
    }
    log = served.log.read_text()
    assert f"orch: run {run_id} of cleanup: cancelled by {BOT}" in log
    assert f"orch: run {run_id} of cleanup: step 'on-cancel' runs all the same" in log
    assert f"orch: run {run_id} of cleanup ended cancelled after" in log


SLOW_THEN_CLEANUP = """
# Demo

```bash {step=slow}
touch started.txt
sleep 300
```

```bash {step=plain}
touch plain.txt
```

```bash {step=cleanup if="always()"}
sleep 300 &
echo $! > cleanup.pid
touch cleaning.txt
wait
touch cleaned.txt
```

```bash {step=last if="always()"}
touch last.txt
```
"""
FRONT = "id: demo\ntitle: Demo\nstatus: approved\n"


def _stopped(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    return bool(eventually(lambda: not process_alive(pid), f"process {pid} to end", 10))


def _started_and_cancelled(repo: Path) -> tuple[subprocess.Popen[str], str]:
    """``orch apply`` of the demo in the background, cancelled during step 'slow', its
    cleanup step running."""
    commit_documents(repo, {"intents/demo.md": document(FRONT, SLOW_THEN_CLEANUP)})
    applying = start(repo, "apply", "intents/demo.md", "--json")
    eventually(lambda: (repo / "started.txt").exists(), "step 'slow' to start")
    run_id = run_in_state(repo, "running", "demo")
    first = orch(repo, "cancel", run_id)
    assert first.code == 0, first.stderr
    assert first.stdout == (
        f"run {run_id} is cancelled (by {PERSON}); its cleanup step 'cleanup' runs all the "
        f"same: orch cancel {run_id} again stops it\n"
    )
    eventually(lambda: (repo / "cleaning.txt").exists(), "the cleanup step to run")
    return applying, run_id


def test_a_second_cancel_stops_the_cleanup_step_and_everything_after_it(git_repo: Path) -> None:
    applying, run_id = _started_and_cancelled(git_repo)
    second = orch(git_repo, "cancel", run_id)
    assert second.code == 0, second.stderr
    assert second.stdout == f"run {run_id} cancelled (cancelled by {PERSON} during step 'slow')\n"
    stdout, stderr = applying.communicate(timeout=60)
    assert applying.returncode == 1, stderr
    assert (
        "cancel: step 'cleanup' runs all the same (if: always()); cancel the run again (or "
        "press Ctrl-C) to stop it" in stderr
    )
    record = json.loads(stdout)
    assert record["state"] == "cancelled"
    assert record["error"] == {
        "step": "slow",
        "message": f"cancelled by {PERSON} during step 'slow'",
    }
    assert {s["name"]: (s["state"], s.get("skipped_because")) for s in record["steps"]} == {
        "slow": ("cancelled", None),
        "plain": ("skipped", "the run was cancelled during step 'slow'"),
        "cleanup": ("cancelled", None),
        "last": (
            "skipped",
            f"a second cancel, by {PERSON}, stopped the run during step 'cleanup'",
        ),
    }
    cleanup = step_of(record, "cleanup")
    assert (cleanup["error"], cleanup["attempts"]) == (f"cancelled by {PERSON}", 1)
    # Each cut step carries the cancel that cut it; the run the first one.
    assert step_of(record, "slow")["answer"]["at"] == record["cancelled"]["at"]
    assert cleanup["answer"]["at"] > record["cancelled"]["at"]
    assert _stopped(git_repo / "cleanup.pid")
    assert not (git_repo / "cleaned.txt").exists() and not (git_repo / "last.txt").exists()
    log = git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/logs/03-cleanup.log")
    assert log == CUT_NOTE.format(PERSON)
    ended = orch(git_repo, "cancel", run_id)
    assert ended.code == 2
    assert ended.stderr == f"orch: run {run_id} has ended (cancelled): there is nothing to cancel\n"


def test_ctrl_c_after_a_cancel_stops_the_cleanup_and_the_run_stays_cancelled(
    git_repo: Path,
) -> None:
    applying, run_id = _started_and_cancelled(git_repo)
    applying.send_signal(signal.SIGINT)
    stdout, stderr = applying.communicate(timeout=60)
    assert shown(git_repo, run_id)["state"] == "cancelled"
    # The first stop decides how the run ends: a cancel, so cancelled, exit 1.
    assert applying.returncode == 1, stderr
    record = json.loads(stdout)
    assert record["state"] == "cancelled"
    assert record["error"]["message"] == f"cancelled by {PERSON} during step 'slow'"
    cleanup, last = step_of(record, "cleanup"), step_of(record, "last")
    assert (cleanup["state"], cleanup["error"]) == ("failed", "interrupted")
    assert (last["state"], last["skipped_because"]) == (
        "skipped",
        "a second Ctrl-C stopped the run during step 'cleanup'",
    )
    assert _stopped(git_repo / "cleanup.pid")


def test_a_cancel_after_ctrl_c_stops_the_cleanup_and_the_run_stays_interrupted(
    git_repo: Path,
) -> None:
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, SLOW_THEN_CLEANUP)})
    applying = start(git_repo, "apply", "intents/demo.md", "--json")
    eventually(lambda: (git_repo / "started.txt").exists(), "step 'slow' to start")
    run_id = run_in_state(git_repo, "running", "demo")
    applying.send_signal(signal.SIGINT)
    eventually(lambda: (git_repo / "cleaning.txt").exists(), "the cleanup to start")
    cancelled = orch(git_repo, "cancel", run_id)
    # The run ended as its first stop says: failed, interrupted.
    assert cancelled.code == 1, cancelled.stderr
    assert cancelled.stdout == (
        f"run {run_id} failed (interrupted by the operator during step 'slow')\n"
    )
    stdout, stderr = applying.communicate(timeout=60)
    assert applying.returncode == 130, stderr
    assert stderr.endswith(
        "interrupted by Ctrl-C during step 'slow': its processes were stopped, step 'cleanup' "
        f"(cancelled) ran all the same, the other later steps were skipped; run {run_id} is "
        "recorded as failed\n"
    )
    record = json.loads(stdout)
    assert (record["state"], record["cancelled"]) == ("failed", None)
    assert {
        s["name"]: (s["state"], s.get("error"), s.get("skipped_because")) for s in record["steps"]
    } == {
        "slow": ("failed", "interrupted", None),
        "plain": ("skipped", None, "the run was interrupted during step 'slow'"),
        "cleanup": ("cancelled", f"cancelled by {PERSON}", None),
        "last": (
            "skipped",
            None,
            f"a second cancel, by {PERSON}, stopped the run during step 'cleanup'",
        ),
    }
    assert _stopped(git_repo / "cleanup.pid")


WAITING = """
# Release

```bash {step=build}
echo "built"
```

```manual {step=approve}
Check the build.
```

```bash {step=ship}
echo "shipped"
```

```bash {step=tidy if="always()" timeout=60s}
echo "approve was {{ steps.approve.state }}"
while [ ! -e "OUTSIDE/gate-$ORCH_RUN_ID" ]; do sleep 0.05; done
echo "tidied"
```
"""


def test_a_waiting_run_cancelled_runs_its_cleanup(git_repo: Path) -> None:
    # A hook's run runs in a worktree of its own: the gate is outside both.
    committing = _commit_through_hook(git_repo, WAITING.replace("OUTSIDE", str(git_repo.parent)))
    run_id = run_in_state(git_repo, "waiting", "release")
    cancelled = orch(git_repo, "cancel", run_id)
    assert cancelled.code == 0, cancelled.stderr
    assert cancelled.stdout == (
        f"run {run_id} is cancelled (by {PERSON}); its cleanup step 'tidy' runs all the same: "
        f"orch cancel {run_id} again stops it\n"
    )
    # While the cleanup runs, the run is recorded running again, and who cancelled it.
    tidying = shown(git_repo, run_id)
    assert (tidying["state"], tidying["waiting"]) == ("running", None)
    assert states(tidying["transitions"]) == ["pending", "running", "waiting", "running"]
    assert tidying["cancelled"]["by"] == PERSON
    late = orch(git_repo, "confirm", run_id)
    assert late.code == 2
    assert late.stderr == (
        f"orch: run {run_id} is running, not waiting for a person: there is no step to confirm\n"
    )

    (git_repo.parent / f"gate-{run_id}").write_text("open")
    committing.wait(60)
    record = shown(git_repo, run_id)
    assert record["state"] == "cancelled"
    assert states(record["transitions"]) == [
        "pending",
        "running",
        "waiting",
        "running",
        "cancelled",
    ]
    assert record["error"] == {
        "step": "approve",
        "message": f"cancelled by {PERSON} during step 'approve'",
    }
    assert {s["name"]: (s["state"], s.get("skipped_because")) for s in record["steps"]} == {
        "build": ("completed", None),
        "approve": ("cancelled", None),
        "ship": ("skipped", "the run was cancelled during step 'approve'"),
        "tidy": ("completed", None),
    }
    assert states(step_of(record, "approve")["transitions"]) == ["running", "waiting", "cancelled"]
    log = git(git_repo, "show", f"orch-trace:runs/release/{run_id}/logs/04-tidy.log")
    assert log == "approve was cancelled\ntidied\n"


BETWEEN = """
# Demo

```bash {step=first}
folder=".orch/runs/demo/$ORCH_RUN_ID"
printf '%s' 'ANSWER' > "$folder/.answer.tmp"
exec mv "$folder/.answer.tmp" "$folder/answer.json"
```

```bash {step=second}
touch second.txt
```

```bash {step=on-cancel if="cancelled()"}
echo "first was {{ steps.first.state }}"
```
"""


def test_a_cancel_found_between_steps_runs_the_cleanup_after_them(git_repo: Path) -> None:
    answer = Answer(action="cancel", by=PERSON, at=utc_now())
    body = BETWEEN.replace("ANSWER", encode_answer(answer).decode())
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    applied = orch(git_repo, "apply", "intents/demo.md", "--json")
    assert applied.code == 1, applied.stderr
    record = applied.json()
    assert record["state"] == "cancelled"
    assert record["error"] == {
        "step": None,
        "message": f"cancelled by {PERSON} before step 'second'",
    }
    assert {s["name"]: (s["state"], s.get("skipped_because")) for s in record["steps"]} == {
        "first": ("completed", None),
        "second": ("skipped", "the run was cancelled before step 'second'"),
        "on-cancel": ("completed", None),
    }
    assert not (git_repo / "second.txt").exists()
    log = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/logs/03-on-cancel.log")
    assert log == "first was completed\n"
