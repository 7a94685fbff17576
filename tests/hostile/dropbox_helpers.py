"""The real DropBoxMini server as users start it (``orch dropbox serve``), and stores to damage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

RW_KEY = "hostile-rw-key"
READ_KEY = "hostile-read-key"
KEYS_JSON = json.dumps(
    {"keys": [{"value": RW_KEY, "role": "readwrite"}, {"value": READ_KEY, "role": "read"}]}
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_command(root: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "dropbox", "serve", "--root", str(root),
            "--port", str(port)]  # fmt: skip


def serve_once(root: Path, keys_json: str = KEYS_JSON, timeout: float = 30) -> tuple[int, str]:
    """``orch dropbox serve`` expected to refuse to start: (exit code, stderr)."""
    done = subprocess.run(
        serve_command(root, free_port()),
        env=_environment(keys_json),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stderr


def _environment(keys_json: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPBOX_")}
    return {**env, "DROPBOX_API_KEYS_JSON": keys_json}


class DropBoxServer:
    """``orch dropbox serve`` over ``root`` on 127.0.0.1, as a process of its own."""

    def __init__(self, root: Path, port: int | None = None, keys_json: str = KEYS_JSON) -> None:
        self.root = root
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keys_json = keys_json
        self.process: subprocess.Popen[str] | None = None
        self.stderr = ""

    def start(self) -> DropBoxServer:
        self.process = subprocess.Popen(
            serve_command(self.root, self.port),
            env=_environment(self.keys_json),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"orch dropbox serve did not start: {self.stderr}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=20)
        self.stderr += err or ""
        self.process = None

    def http(self, key: str | None = RW_KEY) -> httpx.Client:
        headers = {} if key is None else {"X-API-Key": key}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def upload(
        self, content: bytes, project: str, file_name: str = "notes.txt", key: str = RW_KEY
    ) -> httpx.Response:
        with self.http(key) as client:
            return client.post(
                "/api/dropbox/upload",
                data={"artifactType": "generic", "project": project},
                files={"file": (file_name, content)},
            )


@contextmanager
def running(root: Path, port: int | None = None) -> Iterator[DropBoxServer]:
    server = DropBoxServer(root, port).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def freezable_folder(folder: Path) -> Iterator[Callable[[], None]]:
    """``folder``, created empty, and a function that makes it read-only for this process and
    its children: a tmpfs remounted read-only when running as root (root ignores permission
    bits), else its permission bits."""
    folder.mkdir(parents=True)
    if os.geteuid() != 0:

        def freeze_bits() -> None:
            for path in [folder, *folder.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o555)

        try:
            yield freeze_bits
        finally:
            for path in [folder, *folder.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"running as root but cannot mount a tmpfs: {mounted.stderr.strip()}")

    def freeze_mount() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)

    try:
        yield freeze_mount
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
