"""Web view benchmark: server time of the runs page, a run page and the workflows page with
an empty trace and with 5,000 runs, measured in-process through the ASGI app of ``orch serve``.

    .venv/bin/python benchmarks/bench_web.py
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.testclient import TestClient

from orchestrator.service.app import create_app
from orchestrator.service.keys import parse_keys
from orchestrator.service.web.catalog import RunCatalog
from orchestrator.trace import RunFiles, TraceReader, TraceWriter, encode_record

REPEAT = 30
RUNS = 5000
WORKFLOWS = 20
KEY = "bench-key"
DOCUMENT = """---
id: workflow-{n:02d}
title: Workflow {n:02d}
status: approved
inputs:
  count: {{type: integer, default: 1}}
---
# Workflow {n:02d}

```bash {{step=build}}
echo build
```

```bash {{step=test retries=2}}
echo test
```
"""


def rid(n: int) -> str:
    day, rest = divmod(n, 86400)
    return f"202611{day + 1:02d}T{rest // 3600:02d}{rest // 60 % 60:02d}{rest % 60:02d}Z-{n:06x}"


def stamp(run_id: str, seconds: float) -> str:
    day, clock = run_id[6:8], run_id[9:15]
    whole = int(clock[0:2]) * 3600 + int(clock[2:4]) * 60 + int(clock[4:6]) + seconds
    hours, rest = divmod(whole, 3600)
    return f"2026-11-{day}T{int(hours):02d}:{int(rest // 60):02d}:{rest % 60:06.3f}Z"


def record(workflow: str, run_id: str, n: int) -> dict[str, object]:
    failed = n % 7 == 0
    return {
        "schema": 1,
        "run_id": run_id,
        "workflow": {"id": workflow, "title": workflow, "status": "approved"},
        "document": {"path": f"intents/{workflow}.md", "commit": "c" * 40, "blob": "b" * 40},
        "trigger": {"source": ("api", "schedule", "hook")[n % 3], "actor": f"actor-{n % 4}"},
        "inputs": {"count": n % 10},
        "state": "failed" if failed else "completed",
        "transitions": [
            {"state": "pending", "at": stamp(run_id, 0)},
            {"state": "running", "at": stamp(run_id, 0.1)},
            {"state": "failed" if failed else "completed", "at": stamp(run_id, 2.1)},
        ],
        "started_at": stamp(run_id, 0.1),
        "ended_at": stamp(run_id, 2.1),
        "duration_seconds": 2.0,
        "steps": [
            {"name": "build", "kind": "script", "state": "completed", "attempts": 1,
             "started_at": stamp(run_id, 0.1), "ended_at": stamp(run_id, 1.0),
             "log": "logs/01-build.log", "exit_code": 0},
            {"name": "test", "kind": "script", "state": "failed" if failed else "completed",
             "attempts": 3 if failed else 1, "started_at": stamp(run_id, 1.0),
             "ended_at": stamp(run_id, 2.1), "log": "logs/02-test.log",
             "exit_code": 1 if failed else 0, "error": "exited with code 1" if failed else None},
        ],
        "artifacts": [],
        "error": {"step": "test", "message": "exited with code 1"} if failed else None,
    }  # fmt: skip


def make_repo(root: Path, runs: int) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    (root / "intents").mkdir()
    for n in range(WORKFLOWS):
        (root / "intents" / f"workflow-{n:02d}.md").write_text(DOCUMENT.format(n=n))
    subprocess.run(["git", "-C", str(root), "add", "."], check=True, env=env)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(
        ["git", "-C", str(root), *identity, "commit", "-q", "-m", "documents"], check=True, env=env
    )
    subprocess.run(["git", "-C", str(root), "config", "gc.autoDetach", "false"], check=True)
    writer = TraceWriter(root)
    batch: list[RunFiles] = []
    for n in range(runs):
        wf, run_id = f"workflow-{n % WORKFLOWS:02d}", rid(n)
        files = {
            "run.json": encode_record(record(wf, run_id, n)),
            "logs/01-build.log": f"build output of {run_id}\n".encode() * 20,
            "logs/02-test.log": f"test output of {run_id}\n".encode() * 20,
        }
        batch.append(RunFiles(wf, run_id, files, "completed"))
        if len(batch) == 1000:
            writer.commit_runs(batch)
            batch = []
    if batch:
        writer.commit_runs(batch)
    if runs:
        subprocess.run(["git", "-C", str(root), "gc", "-q"], check=True)


def client_for(root: Path) -> TestClient:
    keys = parse_keys(json.dumps({"keys": [{"value": KEY, "role": "run", "name": "bench"}]}))
    client = TestClient(create_app(root, keys), follow_redirects=False)
    form = client.get("/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token is not None
    answer = client.post("/login", data={"key": KEY, "login_token": token.group(1)})
    assert answer.status_code == 303, answer.text
    return client


def median_ms(call: Callable[[], object]) -> float:
    call()
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def get(client: TestClient, path: str) -> Callable[[], object]:
    def call() -> object:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        return answer

    return call


def after_new_runs(root: Path, client: TestClient) -> float:
    """Median ms of the runs page when a run was committed just before each request."""
    writer = TraceWriter(root)
    samples = []
    for extra in range(1, REPEAT + 1):
        wf, new = "workflow-00", rid(900_000 + extra)
        files = {"run.json": encode_record(record(wf, new, extra))}
        writer.commit_run(wf, new, files, state="completed")
        start = time.perf_counter()
        get(client, "/runs")()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, dict[str, float]] = {}
        for label, runs in (("empty trace", 0), (f"{RUNS:,} runs", RUNS)):
            root = Path(tmp) / f"repo-{runs}"
            make_repo(root, runs)
            if runs:
                start = time.perf_counter()
                RunCatalog(TraceReader(root)).runs()
                cold = (time.perf_counter() - start) * 1000
            client = client_for(root)
            client.app.state.web.catalog.runs()  # the start-up warm-up, done here in line
            run_id = rid(runs - 7) if runs else None
            pages = {
                "runs page": "/runs",
                "runs page, 3 filters": "/runs?workflow=workflow-03&state=failed&actor=actor-1",
                "runs page 40 of 100": "/runs?page=40",
                "workflows page": "/",
            }
            if run_id:
                pages["a run page (failed, 2 steps)"] = f"/runs/{run_id}"
                pages["a document page"] = "/workflows/workflow-03"
            results[label] = {name: median_ms(get(client, path)) for name, path in pages.items()}
            if runs:
                results[label]["first listing after start (catalog built)"] = cold
                results[label]["runs page right after a new run"] = after_new_runs(root, client)
        names = list(dict.fromkeys(n for r in results.values() for n in r))
        print(
            f"\n{'median of ' + str(REPEAT) + ' requests, ms':<46}"
            + "".join(f"{label:>16}" for label in results)
        )
        for name in names:
            row = "".join(
                f"{results[label][name]:>16.1f}" if name in results[label] else f"{'—':>16}"
                for label in results
            )
            print(f"{name:<46}{row}")


if __name__ == "__main__":
    main()
