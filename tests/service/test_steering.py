"""Steering runs through a real ``orch serve`` process over HTTP: server-sent events of a
run (state changes and log lines, in order, while the step runs), confirming and cancelling
over the API, re-running and resuming, and the server's own line for each run."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.helpers import document
from tests.web.conftest import READ, RUN, Served, isolated_env, start_serve

CHATTY = document(
    "id: chatty\ntitle: Chatty\nstatus: approved\n",
    """
# Chatty

```bash {step=talk}
for i in 1 2 3 4 5; do echo "line $i"; sleep 0.2; done
```

```manual {step=approve}
Look at the five lines.
```

```bash {step=finish}
echo finished
```
""",
)
GATED = document(
    """
id: gated
title: Gated
status: approved
inputs:
  gate:
    type: string
    required: true
""",
    """
# Gated

```bash {step=wait}
echo "waiting for the gate"
while [ ! -e "$ORCH_INPUT_GATE" ]; do sleep 0.05; done
```
""",
)
FLAKY = document(
    """
id: flaky
title: Flaky
status: approved
inputs:
  allow:
    type: string
    required: true
  password:
    type: string
    secret: true
""",
    """
# Flaky

```bash {step=build}
echo "built" >> "$ORCH_INPUT_ALLOW.builds"
echo "version=3.1" >> "$ORCH_OUTPUT"
```

```bash {step=deploy}
test -e "$ORCH_INPUT_ALLOW" || { echo "not allowed"; exit 5; }
echo "deployed {{ steps.build.outputs.version }}"
```
""",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("steering")
    env = isolated_env(base / "home")
    repo = base / "repo"
    for name, text in {"chatty": CHATTY, "gated": GATED, "flaky": FLAKY}.items():
        (repo / "intents").mkdir(parents=True, exist_ok=True)
        (repo / "intents" / f"{name}.md").write_text(text)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "documents"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    server = start_serve(repo, env, base / "serve.log")
    try:
        yield server
    finally:
        server.stop()


def _queue(client: httpx.Client, workflow: str, inputs: dict[str, Any] | None = None) -> str:
    answer = client.post(
        "/api/runs", headers=RUN, json={"workflow": workflow, "inputs": inputs or {}}
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["runId"])


def _record(client: httpx.Client, run_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/runs/{run_id}", headers=READ)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _until(client: httpx.Client, run_id: str, *states: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = _record(client, run_id)
        if record["state"] in states:
            return record
        assert time.monotonic() < deadline, f"run {run_id} stayed {record['state']}"
        time.sleep(0.05)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and kind:
            yield kind, json.loads(data)
            kind, data = "", ""


def test_events_bring_state_changes_and_log_lines_in_order(served: Served) -> None:
    received: list[tuple[float, str, dict[str, Any]]] = []
    with served.client() as client:
        run_id = _queue(client, "chatty")
        with client.stream("GET", f"/api/runs/{run_id}/events", headers=READ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for kind, data in _events(stream.iter_lines()):
                received.append((time.monotonic(), kind, data))
                if kind == "state" and data["state"] == "waiting":
                    assert data["waiting"]["instruction"] == "Look at the five lines."
                    answer = client.post(f"/api/runs/{run_id}/confirm", headers=RUN)
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["answer"] == "confirm"
    shown = []
    for _, kind, data in received:
        if kind == "log":  # the lines of one poll come as one event: one entry per line
            shown += [("log", data["step"], line) for line in data["text"].splitlines()]
        else:
            shown.append((kind, data.get("step"), data["state"]))
    # What must come, in this order (a poll may pass over a state that lasted a moment,
    # such as the run's return to running after the confirmation).
    wanted = [
        ("state", None, "running"),
        ("step", "talk", "running"),
        *[("log", "talk", f"line {i}") for i in range(1, 6)],
        ("step", "talk", "completed"),
        ("step", "approve", "waiting"),
        ("state", None, "waiting"),
        ("log", "approve", "confirmed by release-bot at"),
        ("step", "approve", "completed"),
        ("log", "finish", "finished"),
        ("step", "finish", "completed"),
        ("state", None, "completed"),
        ("end", None, "completed"),
    ]
    at = [
        next(
            i
            for i, (kind, step, text) in enumerate(shown)
            if (kind, step) == want[:2] and str(text).startswith(str(want[2]))
        )
        for want in wanted
    ]
    assert at == sorted(at), shown
    assert at[-1] == len(shown) - 1
    talk = [text for kind, step, text in shown if kind == "log" and step == "talk"]
    assert talk == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    first_line = next(t for t, kind, data in received if kind == "log")
    talk_done = next(
        t
        for t, kind, data in received
        if kind == "step" and (data["step"], data["state"]) == ("talk", "completed")
    )
    assert talk_done - first_line > 0.4  # the lines came while the step still printed
    offsets = [
        (d["offset"], d["end"]) for _, k, d in received if k == "log" and d["step"] == "talk"
    ]
    assert offsets[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(offsets))

    log = served.log.read_text()
    assert f"orch: run {run_id} of chatty queued (api by release-bot)" in log
    assert f"orch: run {run_id} of chatty started (api by release-bot)" in log
    assert re.search(rf"orch: run {run_id} of chatty ended completed after \d+\.\ds", log)


def test_answers_over_the_api(served: Served, tmp_path: Path) -> None:
    with served.client() as client:
        run_id = _queue(client, "chatty")
        _until(client, run_id, "waiting")
        refused = client.post(f"/api/runs/{run_id}/confirm", headers=READ)
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "forbidden",
            "detail": "the key 'dashboard' may only read (its role: read)",
        }
        wrong = client.post(f"/api/runs/{run_id}/confirm", headers=RUN, json={"step": "finish"})
        assert wrong.status_code == 409
        assert wrong.json()["detail"] == f"run {run_id} waits at step 'approve', not at 'finish'"
        unknown = client.post("/api/runs/20990101T000000Z-abcdef/cancel", headers=RUN)
        assert unknown.status_code == 404
        cancelled = client.post(f"/api/runs/{run_id}/cancel", headers=RUN)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json() == {
            "runId": run_id,
            "answer": "cancel",
            "step": None,
            "by": "release-bot",
            "state": "cancelled",
            "detail": None,
            "cleanup": [],
        }
        record = _record(client, run_id)
        assert record["error"]["message"] == "cancelled by release-bot during step 'approve'"
        ended = client.post(f"/api/runs/{run_id}/confirm", headers=RUN)
        assert ended.status_code == 409
        assert ended.json()["detail"] == (
            f"run {run_id} has ended (cancelled): there is nothing to confirm"
        )
        listed = client.get("/api/runs", headers=READ, params={"state": "cancelled"})
        assert run_id in [r["run_id"] for r in listed.json()]


def test_cancel_a_running_and_a_queued_run(served: Served, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with served.client() as client:
        running = _queue(client, "gated", {"gate": str(gate)})
        queued = _queue(client, "gated", {"gate": str(gate)})
        _until(client, running, "running")
        assert _record(client, queued)["state"] == "pending"

        answer = client.post(f"/api/runs/{queued}/cancel", headers=RUN)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "cancelled"
        never = _record(client, queued)
        assert [t["state"] for t in never["transitions"]] == ["pending", "cancelled"]
        assert never["error"]["message"] == "cancelled by release-bot before it started"
        assert never["cancelled"]["by"] == "release-bot"

        answer = client.post(f"/api/runs/{running}/cancel", headers=RUN)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "cancelled"
        record = _record(client, running)
        step = record["steps"][0]
        assert (step["state"], step["error"]) == ("cancelled", "cancelled by release-bot")


def test_rerun_and_resume_over_the_api(served: Served, tmp_path: Path) -> None:
    allow = tmp_path / "allowed"
    builds = Path(f"{allow}.builds")
    with served.client() as client:
        first = _queue(client, "flaky", {"allow": str(allow), "password": "pw-Delta-77"})
        failed = _until(client, first, "failed", "completed")
        assert failed["error"]["step"] == "deploy"

        secretless = client.post(f"/api/runs/{first}/resume", headers=RUN)
        assert secretless.status_code == 409
        assert secretless.json()["detail"] == (
            f"run {first} had secret input(s) that are never stored; give them again: "
            "'password' (-i password=VALUE or ORCH_INPUT_PASSWORD); nothing was queued"
        )
        allow.write_text("")
        resumed = client.post(
            f"/api/runs/{first}/resume", headers=RUN, json={"inputs": {"password": "pw-Delta-77"}}
        )
        assert resumed.status_code == 202, resumed.text
        record = _until(client, resumed.json()["runId"], "completed", "failed")
        assert record["state"] == "completed"
        assert record["resumes"] == {"run": first, "steps": ["build"], "forced": False}
        assert builds.read_text() == "built\n"

        again = client.post(
            f"/api/runs/{first}/rerun", headers=RUN, json={"inputs": {"password": "pw-Delta-77"}}
        )
        assert again.status_code == 202, again.text
        rerun = _until(client, again.json()["runId"], "completed", "failed")
        assert rerun["state"] == "completed"
        assert rerun["rerun_of"] == first
        assert rerun["inputs"] == failed["inputs"]
        assert rerun["document"]["commit"] == failed["document"]["commit"]
        assert builds.read_text() == "built\nbuilt\n"


def test_a_queued_run_cancelled_from_the_command_line(served: Served, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env = isolated_env(tmp_path / "home")
    with served.client() as client:
        running = _queue(client, "gated", {"gate": str(gate)})
        queued = _queue(client, "gated", {"gate": str(gate)})
        _until(client, running, "running")

        def cancel() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["orch", "cancel", queued, "-C", str(served.repo)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )

        first = cancel()
        assert first.returncode == 0, first.stderr
        assert first.stdout == (
            f"run {queued} is queued: it is recorded cancelled when it would start, and "
            "nothing of it runs\n"
        )
        second = cancel()
        assert second.returncode == 2
        assert second.stderr == (
            "orch: the run has not yet taken the previous answer (cancel by Test Person "
            "<test@example.invalid>): try again in a moment\n"
        )
        assert _record(client, queued)["state"] == "pending"
        gate.write_text("open")
        assert _until(client, running, "completed", "failed")["state"] == "completed"
        never = _until(client, queued, "cancelled", "completed", "failed")
        assert never["state"] == "cancelled"
        assert never["error"]["message"] == (
            "cancelled by Test Person <test@example.invalid> before it started"
        )
        assert never["steps"] == []
