"""Real parts for distributed runs: a redis-server with its own data folder (append-only
file on), a bare repository as the shared remote, a submitter's clone, ``orch worker``
processes each with its own clone, HOME and data folder, and ``orch serve``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from orchestrator.trace import TraceReader, shared
from orchestrator.trace.objects import ObjectStore
from tests.conftest import build_file_tree, git
from tests.service.conftest import KEYS, READ, RUN

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Short timings keep the loss tests fast: a dead worker's run is recorded failed within
# this. Tests that lose no worker use a longer one, so that a loaded machine that delays a
# lease renewal does not make a worker look lost.
LOST_AFTER = "4"
CALM_LOST_AFTER = "20"

pytestmark = pytest.mark.skipif(
    not Path(REDIS_SERVER).exists(), reason="redis-server is not installed (tasks.py installs it)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


@dataclass
class RedisServer:
    """One redis-server on 127.0.0.1 with persistence: an append-only file fsynced always."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def start(self) -> None:
        config = self.folder / "redis.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.folder}\n"
            'appendonly yes\nappendfsync always\nsave ""\n'
            f"logfile {self.folder / 'redis.log'}\n"
        )
        self.process = subprocess.Popen([REDIS_SERVER, str(config)], stdin=subprocess.DEVNULL)
        wait_until("redis-server to answer", self._answers, timeout=20)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    server.stop()


@dataclass
class Shared:
    """The shared remote (bare) and the submitter's clone of it."""

    remote: Path
    checkout: Path

    def commit(self, files: dict[str, str], message: str = "documents") -> str:
        build_file_tree(self.checkout, files)
        git(self.checkout, "add", "-A")
        git(self.checkout, "commit", "-q", "-m", message)
        git(self.checkout, "push", "-q", "origin", "HEAD:main")
        return git(self.checkout, "rev-parse", "HEAD").strip()

    def reader(self) -> TraceReader:
        return TraceReader(self.remote)

    def records(self) -> dict[str, dict[str, Any]]:
        """Every run recorded on the shared remote, by run id: as a reader does, the trace
        refs of every writer are folded into the remote's trace branch first."""
        writers = ObjectStore(self.remote).list_refs(f"{shared.WRITERS}/")
        shared.fold(self.remote, "orch-trace", sorted(writers), "refs/heads/orch-trace")
        reader = self.reader()
        if reader.tip_ref() is None:
            return {}
        return {r["run_id"]: r for r in reader.list_runs(limit=None)}


@pytest.fixture
def shared_repo(tmp_path: Path) -> Shared:
    remote = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    checkout = tmp_path / "submitter"
    git(tmp_path, "clone", "-q", str(remote), str(checkout))
    (checkout / "README.md").write_text("shared\n")
    git(checkout, "add", "README.md")
    git(checkout, "commit", "-q", "-m", "initial")
    git(checkout, "push", "-q", "origin", "HEAD:main")
    return Shared(remote, checkout)


def isolated_env(home: Path, broker: str, **extra: str) -> dict[str, str]:
    """The environment of one stand-in host: its own HOME and git configuration."""
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Host\n\temail = host@example.invalid\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORCH_", "DROPBOX_", "GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"))
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        ORCH_BROKER_URL=broker,
        ORCH_WORKER_LOST_AFTER=CALM_LOST_AFTER,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    data: Path

    @property
    def node(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(
    tmp_path: Path, redis_server: RedisServer, shared_repo: Shared
) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(name: str, labels: str = "", concurrency: int = 2, **env: str) -> Worker:
        host = tmp_path / "hosts" / name
        data = host / "data"
        log = host / "worker.log"
        host.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "orchestrator",
            "worker",
            "--repo",
            str(shared_repo.remote),
            "--name",
            name,
            "--concurrency",
            str(concurrency),
            "--data-dir",
            str(data),
            "--log-level",
            "INFO",
        ]
        if labels:
            command += ["--labels", labels]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=host,
                env=isolated_env(host / "home", redis_server.url, **env),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, log, data)
        started.append(worker)
        client = redis_server.client()

        def ready() -> bool:
            assert process.poll() is None, worker.output()
            text = client.hget("orch:workers", worker.node)
            return bool(text) and "ready" in worker.output()

        wait_until(f"worker {name} to start", ready, timeout=60)
        return worker

    yield start
    for worker in started:
        worker.stop()


@dataclass
class Serve:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def submit(self, client: httpx.Client, workflow: str, **inputs: Any) -> str:
        body = {"workflow": workflow, "inputs": inputs}
        answer = client.post("/api/runs", headers=RUN, json=body)
        assert answer.status_code == 202, answer.text
        run_id: str = answer.json()["runId"]
        return run_id

    def run(self, client: httpx.Client, run_id: str) -> dict[str, Any]:
        answer = client.get(f"/api/runs/{run_id}", headers=READ)
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        return record


@pytest.fixture
def start_serve(
    tmp_path: Path, redis_server: RedisServer, shared_repo: Shared
) -> Iterator[Callable[[], Serve]]:
    started: list[Serve] = []

    def start() -> Serve:
        port = free_port()
        log = tmp_path / "serve.log"
        env = isolated_env(
            tmp_path / "serve-home",
            redis_server.url,
            ORCH_TRACE_REMOTE="origin",
            ORCH_API_KEYS_JSON=json.dumps(KEYS),
        )
        with log.open("ab") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)],
                cwd=shared_repo.checkout,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        serve = Serve(f"http://127.0.0.1:{port}", process, log)
        started.append(serve)

        def up() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"{serve.url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until("orch serve to start", up, timeout=60)
        return serve

    yield start
    for serve in started:
        if serve.process.poll() is None:
            serve.process.terminate()
            try:
                serve.process.wait(30)
            except subprocess.TimeoutExpired:
                serve.process.kill()


def steps_document(workflow: str, body: str, *, runs_on: str = "", extra: str = "") -> str:
    front = f"id: {workflow}\ntitle: {workflow}\nstatus: approved\n"
    if runs_on:
        front += f"runs_on: [{runs_on}]\n"
    front += extra
    return f"---\n{front}---\n\n# Work\n\n```bash {{step=work}}\n{body.strip()}\n```\n"
