"""60 runs of 4 workflows through a real ``orch serve``, three ``orch worker`` processes and a
real Redis: every run recorded once, no overlap within a workflow, submission order kept,
labels respected, the shared remote intact; the fleet seen by ``orch workers``,
``orch show`` and Celery's own ``celery inspect``."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.distributed.conftest import isolated_env, steps_document, wait_until

WORKFLOWS = ("alpha", "beta", "gamma", "delta")
RUNS_EACH = 15


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.timeout(400)
def test_sixty_runs_on_three_workers(
    tmp_path: Path, shared_repo: Any, redis_server: Any, start_worker: Any, start_serve: Any
) -> None:
    steps_log = tmp_path / "steps.log"
    body = 'echo "$ORCH_WORKFLOW_ID $ORCH_RUN_ID $(hostname)" >> "$STEPS_LOG"'
    shared_repo.commit(
        {
            f"intents/{wf}.md": steps_document(wf, body, runs_on="gpu" if wf == "delta" else "")
            for wf in WORKFLOWS
        }
    )
    env = {"STEPS_LOG": str(steps_log)}
    workers = [
        start_worker("w1", labels="gpu", **env),
        start_worker("w2", labels="gpu", **env),
        start_worker("w3", **env),
    ]
    serve = start_serve()
    submitted: dict[str, list[str]] = defaultdict(list)
    with serve.client() as client:
        for index in range(RUNS_EACH * len(WORKFLOWS)):
            workflow = WORKFLOWS[index % len(WORKFLOWS)]
            submitted[workflow].append(serve.submit(client, workflow))
    every = {run for runs in submitted.values() for run in runs}
    assert len(every) == 60

    def all_done() -> dict[str, dict[str, Any]] | None:
        records = shared_repo.records()
        finished = {k: v for k, v in records.items() if v["state"] in ("completed", "failed")}
        return records if len(finished) == 60 else None

    records = wait_until("60 runs to finish", all_done, timeout=240, every=1)

    # Every run recorded exactly once, each completed, and its step ran exactly once.
    assert set(records) == every
    failed = {r["run_id"]: r["error"] for r in records.values() if r["state"] != "completed"}
    assert failed == {}
    ran = Counter(line.split()[1] for line in steps_log.read_text().splitlines())
    assert set(ran) == every and set(ran.values()) == {1}
    started_commits = git(
        shared_repo.remote,
        "log",
        "orch-trace",
        "--grep=Orch-State: running",
        "--format=%(trailers:key=Orch-Run,valueonly)",
    ).split()
    assert Counter(started_commits) == Counter(every)

    for workflow, runs in submitted.items():
        mine = [records[run] for run in runs]
        # Submission order kept: the broker's sequence and the start times follow it.
        assert [r["placement"]["sequence"] for r in mine] == sorted(
            r["placement"]["sequence"] for r in mine
        )
        starts = [_time(r["started_at"]) for r in mine]
        assert starts == sorted(starts), f"{workflow} started out of order"
        # No overlap: each run started after the one before it ended.
        for before, after in itertools.pairwise(mine):
            assert _time(after["started_at"]) >= _time(before["ended_at"]), (
                f"{after['run_id']} overlapped {before['run_id']} of {workflow}"
            )
        tokens = [r["placement"]["fencing_token"] for r in mine]
        assert tokens == sorted(set(tokens))
    # Labels respected: delta needs gpu, which w3 lacks.
    gpu_nodes = {workers[0].node, workers[1].node}
    assert {records[r]["placement"]["worker"] for r in submitted["delta"]} <= gpu_nodes
    assert all(records[r]["trigger"]["host"] == records[r]["placement"]["worker"] for r in every)
    assert len({r["placement"]["worker"] for r in records.values()}) >= 2

    fsck = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling"],
        cwd=shared_repo.remote,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr

    # The fleet as orch shows it ...
    env = isolated_env(tmp_path / "operator", redis_server.url, ORCH_TRACE_REMOTE="origin")
    listed = _orch(shared_repo.checkout, env, "workers", "--json")
    fleet = {w["name"]: w for w in json.loads(listed.stdout)}
    assert set(fleet) == {w.node for w in workers}
    assert {name: w["status"] for name, w in fleet.items()} == dict.fromkeys(fleet, "alive")
    assert fleet[workers[0].node]["labels"] == ["gpu"] and fleet[workers[2].node]["labels"] == []
    table = _orch(shared_repo.checkout, env, "workers").stdout
    assert workers[2].node in table and "alive" in table

    one = submitted["delta"][0]
    shown = _orch(shared_repo.checkout, env, "show", one).stdout
    worker = records[one]["placement"]["worker"]
    assert f"worker    {worker} on host {records[one]['placement']['host']}" in shown

    # ... and as Celery's own tools see the same workers and queues.
    inspect = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "orchestrator.worker.app",
            "inspect",
            "active_queues",
            "--json",
            "-d",
            workers[0].node,
            "-t",
            "10",
        ],
        env={**os.environ, "ORCH_BROKER_URL": redis_server.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr
    queues = json.loads(inspect.stdout)[workers[0].node]
    assert sorted(q["name"] for q in queues) == ["orch", "orch.gpu"]


def _orch(where: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=where,
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done
