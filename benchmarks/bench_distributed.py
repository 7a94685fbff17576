"""Distributed runs: latency from submission to the first step, local queue against broker;
100 trivial runs with one and with two workers; pushes per second to one trace branch with
3, 20 and 100 concurrent pushers.

    .venv/bin/python benchmarks/bench_distributed.py [latency] [throughput] [pushers]

Needs redis-server (tasks.py installs it). Everything runs on 127.0.0.1 in a temporary
folder: real orch serve, orch worker and redis-server processes, a bare repository as the
shared remote.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from orchestrator.trace import TraceReader, TraceWriter, encode_record
from orchestrator.trace.objects import ObjectStore
from orchestrator.trace.shared import fold, writer_ref

KEYS = {"keys": [{"value": "k", "role": "run", "name": "bench"}]}
HEADERS = {"X-API-Key": "k"}
LATENCY_RUNS = 20
THROUGHPUT_RUNS = 100
WORKFLOWS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def git(where: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=where, check=True, capture_output=True, text=True
    ).stdout


def wait(check: Callable[[], Any], timeout: float = 300, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError("gave up waiting")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def document(workflow: str) -> str:
    return (
        f"---\nid: {workflow}\ntitle: {workflow}\nstatus: approved\n---\n\n# Work\n\n"
        "```bash {step=work}\ntrue\n```\n"
    )


class Lab:
    """A temporary fleet: redis-server, a shared bare repository, a submitter's clone."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen[bytes]] = []
        self.remote = root / "shared.git"
        git(root, "init", "-q", "--bare", str(self.remote))
        self.checkout = root / "submitter"
        git(root, "clone", "-q", str(self.remote), str(self.checkout))
        for n in range(WORKFLOWS):
            path = self.checkout / "intents" / f"w{n:02d}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document(f"w{n:02d}"))
        git(self.checkout, "add", "-A")
        git(self.checkout, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "docs")
        git(self.checkout, "push", "-q", "origin", "HEAD:main")
        self.redis_port = free_port()
        folder = root / "redis"
        folder.mkdir()
        (folder / "redis.conf").write_text(
            f"port {self.redis_port}\nbind 127.0.0.1\ndir {folder}\nappendonly yes\n"
            'appendfsync everysec\nsave ""\n'
        )
        self.spawn(["redis-server", str(folder / "redis.conf")], root)
        time.sleep(0.5)
        self.broker = f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
        env.update(HOME=str(home), ORCH_WORKER_LOST_AFTER="10", **extra)
        return env

    def spawn(self, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        log = (self.root / f"log-{len(self.processes)}").open("wb")
        self.processes.append(
            subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        )

    def serve(self, broker: bool) -> str:
        port = free_port()
        extra = {"ORCH_API_KEYS_JSON": json.dumps(KEYS)}
        if broker:
            extra.update(ORCH_BROKER_URL=self.broker, ORCH_TRACE_REMOTE="origin")
        command = [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)]
        self.spawn(command, self.checkout, self.env(self.root / "serve-home", **extra))
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait(up, 60)
        return url

    def worker(self, name: str) -> None:
        home = self.root / name
        command = [
            sys.executable,
            "-m",
            "orchestrator",
            "worker",
            "--repo",
            str(self.remote),
            "--name",
            name,
            "--data-dir",
            str(home / "data"),
            "--concurrency",
            "2",
            "--broker",
            self.broker,
        ]
        self.spawn(command, self.root, self.env(home))
        wait(lambda: "ready" in (self.root / f"log-{len(self.processes) - 1}").read_text(), 60)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def lab() -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="orch-bench-dist-"))
    made = Lab(root)
    try:
        yield made
    finally:
        made.close()
        shutil.rmtree(root, ignore_errors=True)


def records(repo: Path) -> dict[str, dict[str, Any]]:
    reader = TraceReader(repo)
    if reader.tip_ref() is None:
        return {}
    return {r["run_id"]: r for r in reader.list_runs(limit=None)}


def first_step_delay(record: dict[str, Any]) -> float:
    submitted = at(record["transitions"][0]["at"])
    return (at(record["steps"][0]["started_at"]) - submitted).total_seconds()


def latency() -> None:
    print(f"\n## Submission to first step ({LATENCY_RUNS} runs, one at a time)\n")
    for broker in (False, True):
        with lab() as made:
            url = made.serve(broker)
            if broker:
                made.worker("w1")
            where = made.remote if broker else made.checkout
            delays = []
            with httpx.Client(base_url=url, timeout=60) as client:
                for n in range(LATENCY_RUNS):
                    body = {"workflow": f"w{n % WORKFLOWS:02d}"}
                    run_id = client.post("/api/runs", headers=HEADERS, json=body).json()["runId"]

                    def done(run_id: str = run_id, where: Path = where) -> dict[str, Any] | None:
                        found = records(where).get(run_id)
                        return found if found and found["state"] == "completed" else None

                    delays.append(first_step_delay(wait(done, 120, 0.05)))
            delays.sort()
            p95 = delays[max(int(len(delays) * 0.95) - 1, 0)]
            name = "broker, 1 worker" if broker else "local queue"
            print(
                f"{name:18} median {statistics.median(delays):.3f} s   p95 {p95:.3f} s   "
                f"max {delays[-1]:.3f} s"
            )


def throughput() -> None:
    print(f"\n## {THROUGHPUT_RUNS} trivial runs ({WORKFLOWS} workflows), submitted at once\n")
    for workers in (1, 2):
        with lab() as made:
            url = made.serve(True)
            for n in range(workers):
                made.worker(f"w{n + 1}")
            started = time.monotonic()
            ids = []
            with httpx.Client(base_url=url, timeout=60) as client:
                for n in range(THROUGHPUT_RUNS):
                    body = {"workflow": f"w{n % WORKFLOWS:02d}"}
                    ids.append(client.post("/api/runs", headers=HEADERS, json=body).json()["runId"])
            submitted = time.monotonic() - started

            def finished(made: Lab = made, ids: list[str] = ids) -> bool:
                found = records(made.remote)
                return sum(found.get(i, {}).get("state") == "completed" for i in ids) == len(ids)

            wait(finished, 900, 0.5)
            elapsed = time.monotonic() - started
            print(
                f"{workers} worker(s) x 2 threads: all submitted in {submitted:.1f} s, all done in "
                f"{elapsed:.1f} s = {THROUGHPUT_RUNS / elapsed * 60:.0f} runs/minute"
            )


def pushers() -> None:
    print("\n## Trace pushes (each pusher: its own clone, 3 runs, all at once)\n")
    for own_refs in (False, True):
        mode = "a ref per writer" if own_refs else "one branch"
        for count in (3, 20, 100):
            pushes_per_second(count, own_refs, mode)


def pushes_per_second(count: int, own_refs: bool, mode: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="orch-bench-push-"))
    try:
        remote = root / "shared.git"
        git(root, "init", "-q", "--bare", str(remote))
        writers = []
        for n in range(count):
            clone = root / f"c{n}"
            git(root, "clone", "-q", str(remote), str(clone))
            own = writer_ref(clone, "orch-trace") if own_refs else None
            writers.append(TraceWriter(clone, remote="origin", own_ref=own))
        errors: list[str] = []

        def push(n: int, writer: TraceWriter, errors: list[str] = errors) -> None:
            for k in range(3):
                run_id = f"20261201T000000Z-{n:03d}{k:03d}"
                record = {"run_id": run_id, "state": "completed", "transitions": []}
                try:
                    writer.commit_run(
                        "bench", run_id, {"run.json": encode_record(record)}, state="completed"
                    )
                except Exception as exc:
                    errors.append(str(exc))

        threads = [threading.Thread(target=push, args=(n, w)) for n, w in enumerate(writers)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        if own_refs:  # what a reader sees: every writer's ref folded together
            refs = sorted(ObjectStore(remote).list_refs("refs/orch/trace/"))
            fold(remote, "orch-trace", refs, "refs/heads/orch-trace")
        landed = len(records(remote))
        print(
            f"{mode:16} {count:3} pushers: {landed}/{count * 3} runs on the remote in "
            f"{elapsed:5.1f} s = {landed / elapsed:5.1f} pushes/s, {len(errors)} gave up"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(f"# bench_distributed on {platform.node()} ({os.cpu_count()} cores), {time.ctime()}")
    wanted = set(sys.argv[1:]) or {"latency", "throughput", "pushers"}
    if "latency" in wanted:
        latency()
    if "throughput" in wanted:
        throughput()
    if "pushers" in wanted:
        pushers()
