"""A real ``orch serve`` app on uvicorn, on 127.0.0.1 and an ephemeral port, in a thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from orchestrator.service.app import create_app
from orchestrator.service.keys import parse_keys

KEYS = {
    "keys": [
        {"value": "run-key", "role": "run", "name": "ci-system"},
        {"value": "read-key", "role": "read", "name": "dashboard"},
    ]
}
RUN = {"X-API-Key": "run-key"}
READ = {"X-API-Key": "read-key"}


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def start_server(root: Path, workers: int = 2) -> Server:
    app = create_app(root, parse_keys(json.dumps(KEYS)), workers)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped while starting"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return Server(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(root: Path, workers: int = 2) -> Server:
        server = start_server(root, workers)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_for_run(client: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll ``GET /api/runs/{id}`` until the run is completed or failed."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/api/runs/{run_id}", headers=READ)
        if answer.status_code == 200 and answer.json()["state"] in ("completed", "failed"):
            record: dict[str, Any] = answer.json()
            return record
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {answer.text}"
        time.sleep(0.1)
