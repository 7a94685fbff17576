"""A real DropBoxMini server on 127.0.0.1 (ephemeral port), shared by the session."""

from __future__ import annotations

import io
import socket
import sqlite3
import struct
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from orchestrator.dropboxmini.keys import ApiKey, KeyRing
from orchestrator.dropboxmini.protocol import (
    Role,
)
from orchestrator.dropboxmini.server import create_app
from orchestrator.dropboxmini.store import Store

RW, READ, AGENT = "rw-key-0001", "read-key-0001", "agent-key-0001"
BASELINE = 18
MAX_BYTES = 4 * 1024 * 1024
KEYS = KeyRing(
    (
        ApiKey(RW, Role.READWRITE),
        ApiKey(READ, Role.READ),
        ApiKey(AGENT, Role.AGENT, max_artifact_age_hours=24.0),
    )
)


def zip_bytes(text: str = "payload") -> bytes:
    """A small zip; the same text gives the same bytes (fixed entry times, so two calls
    either side of a two-second boundary do not differ)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        entries = (("manifest.json", '{"artifact_id": "x"}'), ("payload/file.txt", text))
        for name, content in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def multipart(fields: dict[str, str], filename: str | bytes, content: bytes) -> tuple[bytes, str]:
    """A multipart body written by hand, so hostile file names reach the server unescaped."""
    boundary = "b0undary" + uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    raw_name = filename if isinstance(filename, bytes) else filename.encode()
    out += f"--{boundary}\r\n".encode()
    out += b'Content-Disposition: form-data; name="file"; filename="' + raw_name + b'"\r\n'
    out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@dataclass
class Live:
    url: str
    root: Path
    store: Store

    def client(self, key: str | None = RW) -> httpx.Client:
        headers = {} if key is None else {"X-API-Key": key}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def upload(
        self,
        content: bytes,
        key: str | None = RW,
        filename: str = "file.bin",
        **fields: str,
    ) -> httpx.Response:
        with self.client(key) as http:
            return http.post(
                "/api/dropbox/upload", data=fields, files={"file": (filename, content)}
            )

    def backdate(self, artifact_id: str, created_utc: str) -> None:
        with sqlite3.connect(self.root / "dropboxmini.sqlite3") as db:
            db.execute(
                "UPDATE artifacts SET created_utc = ? WHERE artifact_id = ?",
                (created_utc, artifact_id),
            )

    def temp_files(self) -> list[Path]:
        return sorted((self.root / ".tmp").glob("*"))

    def files_under_root(self) -> set[Path]:
        return {p for p in self.root.rglob("*") if p.is_file()}


def start_server(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the DropBoxMini test server did not start")
        time.sleep(0.05)
    return server, thread, url


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("dropbox-live")
    store = Store(root, baseline=BASELINE, max_bytes=MAX_BYTES)
    server, thread, url = start_server(create_app(store, KEYS))
    yield Live(url=url, root=store.root, store=store)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def project() -> str:
    """A project name no other test uses, so tests sharing the server stay independent."""
    return "proj-" + uuid.uuid4().hex[:10]
