"""orch serve: POST /api/runs latency while runs execute, and 100 queued runs vs 100 applies.

    .venv/bin/python benchmarks/bench_service.py [--runs 100] [--posts 50]

(a) median and p95 latency of ``POST /api/runs`` (validate + pending commit) while the
    server executes the runs already queued;
(b) wall time of 100 one-step runs of one workflow through the server (submitted at once,
    run FIFO) against 100 sequential ``orch apply`` processes of the same document.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEYS = {"keys": [{"value": "bench", "role": "run", "name": "bench"}]}
HEADERS = {"X-API-Key": "bench"}
DOC = """---
id: bench
title: Bench
status: approved
---

# Bench

```bash {step=one}
echo one
```
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _repo(base: Path) -> Path:
    repo = base / "repo"
    (repo / "intents").mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "Bench")
    _git(repo, "config", "user.email", "bench@example.invalid")
    (repo / "intents" / "bench.md").write_text(DOC)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "bench")
    return repo


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server(repo: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = {**os.environ, "ORCH_API_KEYS_JSON": json.dumps(KEYS)}
    command = [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("orch serve did not start")


def _wait_all(client: httpx.Client, ids: list[str]) -> None:
    for run_id in ids:
        while client.get(f"/api/runs/{run_id}", headers=HEADERS).json()["state"] not in (
            "completed",
            "failed",
        ):
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ.update(HOME=str(base), GIT_CONFIG_NOSYSTEM="1")
        repo = _repo(base)
        process, url = _server(repo, workers=2)
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                latencies, ids = [], []
                for _ in range(args.posts):
                    started = time.perf_counter()
                    answer = client.post("/api/runs", headers=HEADERS, json={"workflow": "bench"})
                    latencies.append(time.perf_counter() - started)
                    assert answer.status_code == 202, answer.text
                    ids.append(answer.json()["runId"])
                _wait_all(client, ids)
                latencies.sort()
                print(
                    f"(a) POST /api/runs while runs execute, n={args.posts}: "
                    f"median {statistics.median(latencies) * 1000:.1f} ms, "
                    f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.1f} ms"
                )

                started = time.perf_counter()
                ids = [
                    client.post("/api/runs", headers=HEADERS, json={"workflow": "bench"}).json()[
                        "runId"
                    ]
                    for _ in range(args.runs)
                ]
                _wait_all(client, ids)
                served = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        started = time.perf_counter()
        for _ in range(args.runs):
            subprocess.run(
                [sys.executable, "-m", "orchestrator", "apply", "intents/bench.md"],
                cwd=repo,
                check=True,
                capture_output=True,
            )
        applied = time.perf_counter() - started
        print(
            f"(b) {args.runs} one-step runs: server {served:.1f} s "
            f"({served / args.runs * 1000:.0f} ms/run), "
            f"sequential orch apply {applied:.1f} s ({applied / args.runs * 1000:.0f} ms/run), "
            f"server/apply = {served / applied:.2f}"
        )


if __name__ == "__main__":
    main()
