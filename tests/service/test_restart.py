"""Restarting ``orch serve`` (real processes): queued runs survive, secret inputs do not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import git
from tests.core.helpers import commit_documents, document
from tests.ports import unused_port
from tests.service.conftest import KEYS, READ, RUN, wait_for_run

SLOW = document(
    "id: slow\ntitle: Slow\nstatus: approved\n",
    '```bash {step=work}\nsleep "${ORCH_INPUT_SECONDS:-0}"\n```\n',
).replace(
    "status: approved\n",
    "status: approved\ninputs:\n  seconds:\n    type: number\n    default: 0\n",
)
SECRET = document(
    """
id: secretive
title: Secretive
status: approved
inputs:
  token:
    type: string
    secret: true
    required: true
""",
    '```bash {step=use}\ntest -n "$ORCH_INPUT_TOKEN"\n```\n',
)


def _start(repo: Path) -> tuple[subprocess.Popen[str], str]:
    port = unused_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve", "--port", str(port), "--workers", "1"],
        cwd=repo,
        env={**os.environ, "ORCH_API_KEYS_JSON": json.dumps(KEYS)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "orch serve did not start"
        time.sleep(0.1)


def test_queued_runs_survive_a_restart(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/slow.md": SLOW, "intents/secretive.md": SECRET})
    process, url = _start(git_repo)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            first = client.post(
                "/api/runs", headers=RUN, json={"workflow": "slow", "inputs": {"seconds": 2}}
            ).json()["runId"]
            queued = [
                client.post("/api/runs", headers=RUN, json={"workflow": "slow"}).json()["runId"]
                for _ in range(3)
            ]
            secret = client.post(
                "/api/runs",
                headers=RUN,
                json={"workflow": "secretive", "inputs": {"token": "hunter2"}},
            ).json()["runId"]
            deadline = time.monotonic() + 30
            while client.get(f"/api/runs/{first}", headers=READ).json()["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        assert process.returncode == -signal.SIGTERM, output
    finally:
        if process.poll() is None:
            process.kill()
    trace = git(git_repo, "show", "orch-trace:open-runs.json")
    for run_id in [*queued, secret]:
        assert run_id in trace
    assert "hunter2" not in git(git_repo, "log", "-p", "orch-trace")

    process, url = _start(git_repo)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            records = [wait_for_run(client, run_id) for run_id in [first, *queued, secret]]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert [r["state"] for r in records[:4]] == ["completed"] * 4
    for record in records[1:4]:
        assert [t["state"] for t in record["transitions"]] == ["pending", "running", "completed"]
    starts = [r["started_at"] for r in records[:4]]
    assert starts == sorted(starts)
    lost = records[4]
    assert lost["state"] == "failed"
    assert "token" in lost["error"]["message"] and "restart" in lost["error"]["message"]
