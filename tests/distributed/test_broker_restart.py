"""A run no worker can take waits, visibly; a restart of Redis loses no queued run; workers and
the server reconnect by themselves."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.conftest import isolated_env, steps_document, wait_until


def _orch(where: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=where,
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(240)
def test_queued_runs_survive_a_broker_restart(
    tmp_path: Path, shared_repo: Any, redis_server: Any, start_worker: Any, start_serve: Any
) -> None:
    shared_repo.commit(
        {
            "intents/held.md": steps_document("held", "true", runs_on="later"),
            "intents/quick.md": steps_document("quick", "true"),
        }
    )
    everyday = start_worker("everyday")
    serve = start_serve()
    with serve.client() as client:
        held = [serve.submit(client, "held") for _ in range(5)]

    operator = isolated_env(tmp_path / "operator", redis_server.url, ORCH_TRACE_REMOTE="origin")
    listed = _orch(shared_repo.checkout, operator, "runs", "--state", "pending")
    assert listed.returncode == 0, listed.stderr
    for run_id in held:
        assert f"{run_id} waiting for a worker with labels later" in listed.stdout, listed.stdout
    assert redis_server.client().llen("orch.later") == 5

    redis_server.restart()
    assert redis_server.client().llen("orch.later") == 5
    assert (
        redis_server.client().zcard(
            "orch:line:" + redis_server.client().hget(f"orch:run:{held[0]}", "workflow")
        )
        == 5
    )

    # The server and the running worker reconnect: a new run goes through.
    with serve.client() as client:
        quick = serve.submit(client, "quick")
    records = wait_until(
        "the quick run to complete",
        lambda: (
            shared_repo.records().get(quick, {}).get("state") == "completed"
            and shared_repo.records()
        ),
    )
    assert records[quick]["placement"]["worker"] == everyday.node

    later = start_worker("later", labels="later")
    records = wait_until(
        "the held runs to complete",
        lambda: (
            all(shared_repo.records().get(r, {}).get("state") == "completed" for r in held)
            and shared_repo.records()
        ),
        timeout=90,
    )
    mine = [records[r] for r in held]
    assert [r["placement"]["sequence"] for r in mine] == [1, 2, 3, 4, 5]
    assert {r["placement"]["worker"] for r in mine} == {later.node}
    starts = [datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")) for r in mine]
    assert starts == sorted(starts)
    listed = _orch(shared_repo.checkout, operator, "runs", "--state", "pending", "--json")
    assert listed.stdout.strip() == "[]", listed.stdout
