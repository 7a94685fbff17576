"""A run that waits for a person gives its place among ``orch serve``'s ``--workers`` back:
with one worker, another workflow's run runs while it waits, and a later run of its own
workflow still waits behind it. Real ``orch serve`` process, answers over the HTTP API."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.helpers import document
from tests.steering.helpers import eventually
from tests.web.conftest import (
    READ,
    RUN,
    Served,
    isolated_env,
    make_repository,
    start_serve,
)

APPROVAL = document(
    "id: approval\ntitle: Approval\nstatus: approved\n",
    """
# Approval

```manual {step=approve timeout=120s}
Check the dashboard.
```

```bash {step=after}
echo "approved"
```
""",
)
QUICK = document(
    "id: quick\ntitle: Quick\nstatus: approved\n",
    """
# Quick

```bash {step=hello}
echo "hello"
```
""",
)


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[Served]:
    env = isolated_env(tmp_path / "home")
    repo = make_repository(tmp_path, env)
    for name, text in (("approval", APPROVAL), ("quick", QUICK)):
        (repo / "intents" / f"{name}.md").write_text(text)
    for args in (["add", "."], ["commit", "-q", "-m", "two more documents"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    server = start_serve(repo, env, tmp_path / "serve.log", workers=1)
    try:
        yield server
    finally:
        server.stop()


def _queue(client: httpx.Client, workflow: str) -> str:
    answer = client.post("/api/runs", headers=RUN, json={"workflow": workflow, "inputs": {}})
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["runId"]
    return run_id


def _state(client: httpx.Client, run_id: str) -> str:
    answer = client.get(f"/api/runs/{run_id}", headers=READ)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return str(record["state"])


def _in_state(client: httpx.Client, run_id: str, state: str) -> bool:
    return _state(client, run_id) == state


def test_a_waiting_run_lets_other_workflows_run(one_worker: Served) -> None:
    with one_worker.client() as client:
        first = _queue(client, "approval")
        eventually(lambda: _in_state(client, first, "waiting"), "the first run to wait")
        second = _queue(client, "approval")
        quick = _queue(client, "quick")
        eventually(lambda: _in_state(client, quick, "completed"), "the quick run", timeout=60)
        # Its own workflow's next run keeps waiting behind it.
        assert (_state(client, first), _state(client, second)) == ("waiting", "pending")

        confirmed = client.post(f"/api/runs/{first}/confirm", headers=RUN, json={})
        assert confirmed.status_code == 200, confirmed.text
        eventually(lambda: _in_state(client, first, "completed"), "the first run to end")
        eventually(lambda: _in_state(client, second, "waiting"), "the second run to wait")
        cancelled = client.post(f"/api/runs/{second}/cancel", headers=RUN)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"
