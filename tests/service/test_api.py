"""The HTTP API of ``orch serve`` against a real server, real repositories and the real trace."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.core.helpers import commit_documents, document
from tests.service.conftest import READ, RUN, wait_for_run

DEMO = document(
    """
id: demo
title: Demo
status: approved
inputs:
  count:
    type: integer
    required: true
    minimum: 1
    maximum: 10
""",
    """
# Demo

```bash {step=count}
echo "count=$ORCH_INPUT_COUNT"
```
""",
)
DRAFT = document("id: sketch\ntitle: Sketch\nstatus: draft\n", "```bash {step=a}\ntrue\n```\n")
GATE = document(
    """
id: gate
title: Gate
status: approved
inputs:
  gate:
    type: string
    required: true
""",
    """
# Gate

```bash {step=wait}
while [ ! -e "$ORCH_INPUT_GATE" ]; do sleep 0.05; done
```
""",
)
LINE = document(
    "id: line\ntitle: Line\nstatus: approved\n",
    '```bash {step=work}\necho "run $ORCH_RUN_ID"\nsleep 0.3\n```\n',
)
DOCUMENTS = {
    "intents/demo.md": DEMO,
    "intents/sketch.md": DRAFT,
    "intents/gate.md": GATE,
    "intents/line.md": LINE,
}
PROBLEM = re.compile(r"^[^:]+:\d+:\d+: .+")


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return commit_documents(git_repo, DOCUMENTS)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_keys_and_roles(repo: Path, serve: Any) -> None:
    with serve(repo).client() as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["service"] == "orch"
        for headers in ({}, {"X-API-Key": "wrong"}):
            for method, path in (("GET", "/api/workflows"), ("POST", "/api/runs")):
                answer = client.request(method, path, headers=headers, json={"workflow": "demo"})
                assert answer.status_code == 401, answer.text
                assert answer.json()["error"] == "unauthorized"
        forbidden = client.post("/api/runs", headers=READ, json={"workflow": "demo"})
        assert forbidden.status_code == 403
        assert (
            forbidden.json()["error"] == "forbidden" and "dashboard" in forbidden.json()["detail"]
        )
        for headers in (READ, RUN):
            listed = client.get("/api/workflows", headers=headers)
            assert listed.status_code == 200
        workflows = {w["id"]: w for w in listed.json()}
        assert set(workflows) == {"demo", "sketch", "gate", "line"}
        assert workflows["demo"]["inputs"]["count"]["type"] == "integer"
        assert workflows["demo"]["inputs"]["count"]["required"] is True
        assert client.get("/openapi.json").json()["paths"]["/api/runs"]["post"]


def test_workflow_listing_follows_edits_between_requests(repo: Path, serve: Any) -> None:
    with serve(repo).client() as client:
        before = {w["id"]: w for w in client.get("/api/workflows", headers=READ).json()}
        assert before["line"]["title"] == "Line"
        (repo / "intents" / "line.md").write_text(LINE.replace("title: Line", "title: Lime"))
        (repo / "intents" / "gate.md").unlink()
        (repo / "intents" / "extra.md").write_text(LINE.replace("id: line", "id: extra"))
        after = {w["id"]: w for w in client.get("/api/workflows", headers=READ).json()}
        assert after["line"]["title"] == "Lime"
        assert set(after) == {"demo", "sketch", "line", "extra"}


def test_bad_requests_get_json_errors(repo: Path, serve: Any) -> None:
    with serve(repo).client() as client:
        unknown = client.post("/api/runs", headers=RUN, json={"workflow": "nope"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "not-found"

        invalid = client.post(
            "/api/runs", headers=RUN, json={"workflow": "demo", "inputs": {"count": 99, "x": 1}}
        )
        assert invalid.status_code == 422, invalid.text
        body = invalid.json()
        assert body["error"] == "invalid"
        assert len(body["problems"]) == 2
        assert all(PROBLEM.match(p) for p in body["problems"]), body["problems"]
        assert any("x" in p for p in body["problems"])

        missing = client.post("/api/runs", headers=RUN, json={"workflow": "demo"})
        assert missing.status_code == 422 and "count" in " ".join(missing.json()["problems"])

        draft = client.post("/api/runs", headers=RUN, json={"workflow": "sketch"})
        assert draft.status_code == 422
        assert "draft" in " ".join(draft.json()["problems"])

        malformed = client.post(
            "/api/runs",
            headers={**RUN, "Content-Type": "application/json"},
            content=b'{"workflow": "demo",',
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"] == "bad-request"

        shapeless = client.post("/api/runs", headers=RUN, json={"inputs": []})
        assert shapeless.status_code == 422
        assert {"error", "detail", "problems"} <= set(shapeless.json())

        assert client.get("/api/runs/20000101T000000Z-000000", headers=READ).status_code == 404
        assert client.get("/api/nowhere", headers=READ).json()["error"] == "not-found"
    # Nothing invalid reached the trace.
    assert git(repo, "branch", "--list", "orch-trace") == ""


def test_a_run_is_pending_in_the_trace_before_the_answer(
    repo: Path, serve: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "open"
    with serve(repo).client() as client:
        first = client.post(
            "/api/runs", headers=RUN, json={"workflow": "gate", "inputs": {"gate": str(gate)}}
        )
        assert first.status_code == 202, first.text
        second = client.post(
            "/api/runs", headers=RUN, json={"workflow": "gate", "inputs": {"gate": str(gate)}}
        )
        assert second.status_code == 202, second.text
        run_id = second.json()["runId"]
        # The first run holds the workflow until the gate opens: the second must be pending.
        pending = json.loads(git(repo, "show", f"orch-trace:runs/gate/{run_id}/run.json"))
        assert pending["state"] == "pending"
        assert pending["trigger"]["source"] == "api"
        assert pending["trigger"]["actor"] == "ci-system"
        gate.write_text("open\n")
        done = [wait_for_run(client, r.json()["runId"]) for r in (first, second)]
    assert [r["state"] for r in done] == ["completed", "completed"]
    record = done[1]
    assert [t["state"] for t in record["transitions"]] == ["pending", "running", "completed"]
    assert record["transitions"][0]["at"] == pending["transitions"][0]["at"]
    assert record["workspace"]["kind"] == "worktree"
    assert git(repo, "worktree", "list").count("\n") == 1
    assert git(repo, "status", "--porcelain") == ""


def test_runs_of_one_workflow_run_first_in_first_out(repo: Path, serve: Any) -> None:
    with serve(repo, workers=3).client() as client:
        ids = []
        for _ in range(5):
            answer = client.post("/api/runs", headers=RUN, json={"workflow": "line"})
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["runId"])
        records = [wait_for_run(client, run_id) for run_id in ids]
        assert [r["state"] for r in records] == ["completed"] * 5
        for before, after in itertools.pairwise(records):
            assert _moment(before["ended_at"]) <= _moment(after["started_at"])
        listed = client.get("/api/runs", headers=READ, params={"workflow": "line", "limit": 3})
        shown = [r["run_id"] for r in listed.json()]
        assert len(shown) == 3 and set(shown) <= set(ids)
        log = client.get(f"/api/runs/{ids[0]}/logs/work", headers=READ)
        assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
        assert log.text == f"run {ids[0]}\n"
        assert client.get(f"/api/runs/{ids[0]}/logs/nope", headers=READ).status_code == 404


def test_different_workflows_run_side_by_side(repo: Path, serve: Any, tmp_path: Path) -> None:
    gate = tmp_path / "open"
    with serve(repo, workers=2).client() as client:
        held = client.post(
            "/api/runs", headers=RUN, json={"workflow": "gate", "inputs": {"gate": str(gate)}}
        )
        other = client.post(
            "/api/runs", headers=RUN, json={"workflow": "demo", "inputs": {"count": 3}}
        )
        assert wait_for_run(client, other.json()["runId"])["state"] == "completed"
        gate.write_text("open\n")
        assert wait_for_run(client, held.json()["runId"])["state"] == "completed"
