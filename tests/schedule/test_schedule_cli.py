"""``orch schedule`` end to end: real repositories, real ``orch`` processes, the real trace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import api
from tests.conftest import build_file_tree, git
from tests.core.helpers import document, orch

YEARLY = '"0 0 1 1 *"'


def _front(status: str = "approved", schedule: str = YEARLY) -> str:
    return f"""
id: yearly
title: Yearly
status: {status}
inputs:
  target:
    type: string
    enum: [staging, production]
on:
  schedule: {schedule}
  inputs: {{target: staging}}
"""


BODY = """
# Yearly

```bash {step=work}
echo "target=$ORCH_INPUT_TARGET" > made-by-schedule.txt
echo "pwd=$PWD"
sleep 0.5
```
"""


def _commit_long_ago(repo: Path, files: dict[str, str]) -> None:
    build_file_tree(repo, files)
    when = "2020-06-01T12:00:00Z"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for args in (["add", "-A"], ["commit", "-q", "-m", "scheduled document"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)


def _scheduled_runs(repo: Path) -> list[dict[str, Any]]:
    records = api.runs(repo, limit=100)
    return [r for r in records if r["trigger"]["source"] == "schedule"]


# Each pass is evaluated at a fixed time, so the cron time it runs does not depend on today.
AT = "2026-06-01T12:00:00Z"
NEW_YEAR = "2026-01-01T00:00:00Z"


def test_once_runs_a_due_document_in_a_worktree_and_only_once(git_repo: Path) -> None:
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), BODY)})
    head = git(git_repo, "rev-parse", "HEAD")
    build_file_tree(git_repo, {"notes.txt": "uncommitted work\n"})
    status = git(git_repo, "status", "--porcelain")

    first = orch(git_repo, "schedule", "--once", "--at", AT)
    assert first.code == 0, first.stderr
    assert git(git_repo, "status", "--porcelain") == status
    assert git(git_repo, "rev-parse", "HEAD") == head
    assert not (git_repo / "made-by-schedule.txt").exists()

    runs = _scheduled_runs(git_repo)
    assert len(runs) == 1
    record = runs[0]
    assert record["state"] == "completed"
    assert record["trigger"]["cron_time"] == NEW_YEAR
    assert record["trigger"]["actor"] == "orch schedule"
    assert record["inputs"] == {"target": "staging"}
    assert record["workspace"]["kind"] == "worktree"
    log = git(git_repo, "show", f"orch-trace:runs/yearly/{record['run_id']}/logs/01-work.log")
    assert f"pwd={git_repo}" not in log
    assert git(git_repo, "worktree", "list").count("\n") == 1

    second = orch(git_repo, "schedule", "--once", "--at", AT)
    assert second.code == 0, second.stderr
    assert "nothing is due" in second.stderr
    assert len(_scheduled_runs(git_repo)) == 1


def test_drafts_never_run(git_repo: Path) -> None:
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(status="draft"), BODY)})
    result = api.schedule_once(git_repo, datetime.fromisoformat(AT))
    assert (result.records, result.problems, result.succeeded) == ([], [], True)
    assert _scheduled_runs(git_repo) == []


def test_a_failing_scheduled_run_exits_1(git_repo: Path) -> None:
    failing = BODY.replace("sleep 0.5", "exit 4")
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), failing)})
    ran = orch(git_repo, "schedule", "--once", "--at", AT)
    assert ran.code == 1, ran.stderr
    assert [r["state"] for r in _scheduled_runs(git_repo)] == ["failed"]


def test_two_concurrent_schedulers_run_a_cron_time_once(git_repo: Path) -> None:
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), BODY)})
    command = [sys.executable, "-m", "orchestrator", "schedule", "--once", "--at", AT]
    processes = [
        subprocess.Popen(
            command, cwd=git_repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outcomes
    runs = _scheduled_runs(git_repo)
    assert [r["trigger"]["cron_time"] for r in runs] == [NEW_YEAR]
    assert runs[0]["state"] == "completed"


def test_orch_list_shows_the_next_run(git_repo: Path) -> None:
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), BODY)})
    # orch list reads the clock: the year may turn while it runs, so either answer is right.
    before = time.gmtime().tm_year
    ran = orch(git_repo, "list", "--json")
    after = time.gmtime().tm_year
    assert ran.code == 0, ran.stderr
    [row] = ran.json()
    assert row["next_run"] in {f"{year + 1}-01-01T00:00:00Z" for year in (before, after)}


def test_the_foreground_scheduler_stops_on_sigterm(git_repo: Path) -> None:
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), BODY)})
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "schedule"],
        cwd=git_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _scheduled_runs(git_repo):
            time.sleep(0.2)
        assert _scheduled_runs(git_repo), "the foreground scheduler ran nothing"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "stopped" in stderr
    assert len(_scheduled_runs(git_repo)) == 1
    assert json.dumps(_scheduled_runs(git_repo)[0]["state"]) == '"completed"'
