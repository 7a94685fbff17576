"""Every way of submitting sends to the broker when one is configured: ``orch apply --queue``,
the post-commit hook, ``orch schedule``; and what is refused, with which message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.distributed.conftest import isolated_env, steps_document, wait_until
from tests.service.conftest import RUN

JOB = steps_document(
    "job",
    'echo "name=$ORCH_INPUT_NAME"',
    extra="inputs:\n  name:\n    type: string\n    default: nobody\n",
)
NOTED = steps_document(
    "noted",
    'echo "$ORCH_INPUT_NOTE"',
    extra="secrets: [DEPLOY_TOKEN]\ninputs:\n  note:\n    type: string\n    default: none\n",
)
SECRETIVE = steps_document(
    "secretive",
    'test -n "$ORCH_INPUT_TOKEN"',
    extra="inputs:\n  token:\n    type: string\n    secret: true\n",
)


def _orch(
    where: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=where,
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _completed(shared_repo: Any, run_id: str) -> dict[str, Any] | None:
    record: dict[str, Any] = shared_repo.records().get(run_id, {})
    return record if record.get("state") == "completed" else None


@pytest.mark.timeout(240)
def test_apply_queue_hooks_and_schedule_send_to_the_workers(
    tmp_path: Path, shared_repo: Any, redis_server: Any, start_worker: Any
) -> None:
    shared_repo.commit({"intents/job.md": JOB})
    worker = start_worker("w1")
    env = isolated_env(tmp_path / "operator", redis_server.url, ORCH_TRACE_REMOTE="origin")
    checkout = shared_repo.checkout

    # orch apply --queue, from a terminal.
    queued = _orch(checkout, env, "apply", "--queue", "intents/job.md", "-i", "name=ada")
    assert queued.returncode == 0, queued.stderr
    run_id = queued.stderr.split("queued run ", 1)[1].split()[0]
    assert (
        f"queued run {run_id} of job for the workers (queue orch, number 1 of its workflow); "
        f"follow it with: orch show {run_id}"
    ) in " ".join(queued.stderr.split())
    record = wait_until("the queued run", lambda: _completed(shared_repo, run_id))
    assert record["trigger"]["source"] == "manual"
    assert record["trigger"]["actor"] == "Host <host@example.invalid>"
    assert record["inputs"] == {"name": "ada"}
    assert record["placement"]["worker"] == worker.node
    logs = _orch(checkout, env, "logs", run_id)
    assert "name=ada" in logs.stdout, logs.stderr

    # The post-commit hook: the commit is not pushed, so orch makes it fetchable for the
    # workers under refs/orch/commits/ (the user's branch is not pushed).
    installed = _orch(checkout, env, "hooks", "install")
    assert installed.returncode == 0, installed.stderr
    (checkout / "intents" / "hooked.md").write_text(steps_document("hooked", "true"))
    git(checkout, "add", "intents/hooked.md")
    committed = subprocess.run(
        ["git", "commit", "-q", "-m", "a document the hook sends"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert committed.returncode == 0, committed.stderr
    said = committed.stderr
    assert "orch: hooked (intents/hooked.md) run " in said, said
    hooked = said.split("orch: hooked (intents/hooked.md) run ", 1)[1].split(":")[0]
    assert f"run {hooked}: pending: sent to the workers (queue orch)" in said
    commit = git(checkout, "rev-parse", "HEAD").strip()
    assert git(shared_repo.remote, "rev-parse", f"refs/orch/commits/{commit}").strip() == commit
    assert git(shared_repo.remote, "rev-parse", "main").strip() != commit
    record = wait_until("the hook's run", lambda: _completed(shared_repo, hooked))
    assert record["trigger"]["source"] == "hook"
    assert record["document"]["commit"] == commit

    # orch schedule --once: a document committed long ago is due at once.
    (checkout / "intents" / "nightly.md").write_text(
        steps_document("nightly", "true", extra='on:\n  schedule: "0 2 * * *"\n')
    )
    git(checkout, "add", "intents/nightly.md")
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", "nightly"],
        cwd=checkout,
        check=True,
        timeout=60,
        env={**env, "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z", "ORCH_ACTIVE_RUN": "x"},
    )
    scheduled = _orch(checkout, env, "schedule", "--once")
    assert scheduled.returncode == 0, scheduled.stderr
    assert "pending nightly run " in scheduled.stderr, scheduled.stderr
    nightly = scheduled.stderr.split("pending nightly run ", 1)[1].split()[0]
    record = wait_until("the scheduled run", lambda: _completed(shared_repo, nightly))
    assert record["trigger"]["source"] == "schedule"
    assert record["trigger"]["cron_time"].endswith("T02:00:00Z")
    assert record["trigger"]["actor"] == "orch schedule"


def test_what_is_refused_and_why(
    tmp_path: Path, shared_repo: Any, redis_server: Any, start_serve: Any
) -> None:
    shared_repo.commit(
        {"intents/job.md": JOB, "intents/secretive.md": SECRETIVE, "intents/noted.md": NOTED}
    )
    checkout = shared_repo.checkout
    plain = isolated_env(tmp_path / "plain", "")
    del plain["ORCH_BROKER_URL"]
    env = isolated_env(tmp_path / "operator", redis_server.url, ORCH_TRACE_REMOTE="origin")

    refused = _orch(checkout, plain, "apply", "--queue", "intents/job.md")
    assert refused.returncode == 2
    assert refused.stderr.startswith("orch: no broker is configured: set ORCH_BROKER_URL")

    no_remote = {k: v for k, v in env.items() if k != "ORCH_TRACE_REMOTE"}
    refused = _orch(checkout, no_remote, "apply", "--queue", "intents/job.md")
    assert refused.returncode == 2
    assert "runs sent to a broker need a shared trace remote: set ORCH_TRACE_REMOTE" in (
        refused.stderr
    )

    (checkout / "intents" / "job.md").write_text(JOB.replace("nobody", "somebody"))
    refused = _orch(checkout, env, "apply", "--queue", "intents/job.md")
    assert refused.returncode == 2
    assert "intents/job.md has changes that are not committed" in refused.stderr
    git(checkout, "checkout", "intents/job.md")

    refused = _orch(checkout, env, "apply", "--queue", "intents/secretive.md", "-i", "token=s3")
    assert refused.returncode == 2
    assert (
        "intents/secretive.md:6:1: input 'token' is secret, and secrets never travel through "
        "the broker: give the workers the value in their environment (secrets:) instead"
    ) in refused.stderr, refused.stderr
    assert "s3" not in refused.stderr

    # The submitter's copy of a secret, pasted into another input, does not travel either.
    refused = _orch(
        checkout,
        {**env, "DEPLOY_TOKEN": "tok-123456"},
        "apply",
        "--queue",
        "intents/noted.md",
        "-i",
        "note=use tok-123456 here",
    )
    assert refused.returncode == 2
    assert refused.stderr == (
        "intents/noted.md:7:1: input 'note' holds the value of a secret, and secrets never "
        "travel through the broker\n"
    )

    (checkout / "orch.toml").write_text('broker = "redis://:hunter2@broker:6379/0"\n')
    refused = _orch(checkout, env, "runs")
    assert refused.returncode == 2
    assert "setting 'broker' holds credentials: give a broker URL with a password only in " in (
        refused.stderr
    )
    assert "hunter2" not in refused.stderr
    (checkout / "orch.toml").unlink()

    missing = _orch(tmp_path, env, "worker", "--broker", redis_server.url)
    assert missing.returncode == 2 and "Missing option '--repo'" in missing.stderr
    bad = _orch(tmp_path, env, "worker", "--repo", str(shared_repo.remote), "--labels", "GPU")
    assert bad.returncode == 2
    assert "orch: --labels: 'GPU' is not a worker label" in bad.stderr
    down = _orch(
        tmp_path,
        env,
        "worker",
        "--repo",
        str(shared_repo.remote),
        "--broker",
        "redis://:pw@127.0.0.1:1/0",
    )
    assert down.returncode == 2
    assert down.stderr.startswith("orch: cannot reach the broker at redis://:***@127.0.0.1:1/0:")
    assert "pw@" not in down.stderr

    # Through the API: a secret input is refused before anything is recorded or sent.
    serve = start_serve()
    broker = redis_server.client()
    with serve.client() as client:
        answer = client.post(
            "/api/runs", headers=RUN, json={"workflow": "secretive", "inputs": {"token": "s3"}}
        )
        assert answer.status_code == 422
        assert answer.json()["problems"] == [
            "<request>:1:1: input 'token' is secret, and secrets never travel through the "
            "broker: give the workers the value in their environment (secrets:) instead"
        ]
        assert broker.keys("orch:run:*") == []
        assert shared_repo.records() == {}

        # The broker goes away: the submission is answered 503 and the run recorded failed.
        redis_server.stop()
        answer = client.post("/api/runs", headers=RUN, json={"workflow": "job"})
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "unavailable"
    assert (
        body["detail"].startswith("run ")
        and " of job was not queued: cannot reach the " in (body["detail"])
    )
    assert body["detail"].endswith("; it is recorded failed")
    failed = list(shared_repo.records().values())
    assert [r["state"] for r in failed] == ["failed"]
    assert failed[0]["error"]["message"].startswith(
        f"the run could not be sent to the workers: cannot reach the broker at "
        f"redis://127.0.0.1:{redis_server.port}/0"
    )
    assert json.dumps(failed[0]).count("submit it again") == 1
    assert os.environ.get("ORCH_BROKER_URL") is None
