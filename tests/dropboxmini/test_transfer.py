"""Large transfers: the streamed multipart upload body and the direct socket download."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from orchestrator.dropboxmini import ArtifactRecord, DropBoxClient, DropBoxError, UploadFields
from orchestrator.dropboxmini import client as client_module
from orchestrator.dropboxmini.client import _body_chunks
from orchestrator.dropboxmini.receive import WRITE_BATCH, receive_form
from orchestrator.dropboxmini.store import PendingUpload, Store
from tests.dropboxmini.conftest import RW, Live


def no_sleep(_: float) -> None:
    return None


HOSTILE = 'we"ird\\name\x01\x1b\r\n\x7fé.bin'


class _RecordingHandler(BaseHTTPRequestHandler):
    """Keeps every request body it receives and answers 503 twice, then 409."""

    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.headers["Content-Type"], body))
        status = 503 if len(type(self).bodies) <= 2 else 409
        answer = json.dumps({"error": "conflict", "detail": "already stored"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        return None


def test_every_upload_attempt_sends_the_whole_file_with_escaped_names(tmp_path: Path) -> None:
    source = tmp_path / "f.bin"
    content = b"a\r\n--b\r\n" * 1000
    source.write_bytes(content)
    _RecordingHandler.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fields = UploadFields("generic", "p", label='q"uo\\te', file_name=HOSTILE)
    try:
        with (
            DropBoxClient(f"http://127.0.0.1:{server.server_address[1]}", RW, sleep=no_sleep) as c,
            pytest.raises(DropBoxError, match=r"^already stored$") as raised,
        ):
            c.upload(source, fields)
    finally:
        server.shutdown()
        server.server_close()
    assert raised.value.status == 409
    assert len(_RecordingHandler.bodies) == 3
    for content_type, body in _RecordingHandler.bodies:
        boundary = content_type.split("boundary=")[1].encode()
        assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
        assert (
            b'Content-Disposition: form-data; name="file"; '
            b'filename="we%22ird\\\\name%01\x1b%0D%0A\x7f\xc3\xa9.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--" + boundary
        ) in body
        assert b'name="label"\r\n\r\nq"uo\\te\r\n' in body


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Lowers the direct-read threshold and records whether each download used it."""
    monkeypatch.setattr(client_module, "DIRECT_READ_MIN", 1)
    seen: list[bool] = []
    original = client_module._direct_socket

    def spy(response: httpx.Response) -> socket.socket | None:
        sock = original(response)
        seen.append(sock is not None)
        return sock

    monkeypatch.setattr(client_module, "_direct_socket", spy)
    return seen


@pytest.mark.parametrize("size", [1, 70_000, 3 * 1024 * 1024 + 17])
def test_download_read_from_the_socket_is_exact(
    live: Live, project: str, tmp_path: Path, direct_reads: list[bool], size: int
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(size))
    with DropBoxClient(live.url, RW) as client:
        record = client.upload(source, UploadFields("generic", project))
        assert record.size == size
        assert record.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        for attempt in range(2):
            dest = tmp_path / f"back-{attempt}.bin"
            client.download(record.artifact_id, dest)
            assert dest.read_bytes() == source.read_bytes()
        assert client.get(record.artifact_id) == record
    assert direct_reads == [True, True]
    assert not list(tmp_path.glob(".back-*"))


def _short_body_server(declared: int, sent: int) -> tuple[str, threading.Thread]:
    """A server answering one request with ``sent`` of ``declared`` bytes, then closing."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\n"
                "Content-Type: application/octet-stream\r\n\r\n".encode()
                + b"z" * sent
            )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}", thread


@pytest.mark.parametrize("direct", [True, False])
def test_a_body_cut_short_raises(monkeypatch: pytest.MonkeyPatch, direct: bool) -> None:
    monkeypatch.setattr(client_module, "DIRECT_READ_MIN", 1 if direct else 1 << 40)
    url, thread = _short_body_server(declared=5_000_000, sent=300_000)
    with httpx.Client() as http, http.stream("GET", url) as response:
        got = 0
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in _body_chunks(response, 10.0):
                got += len(chunk)
    thread.join(timeout=10)
    assert got == 300_000


def test_failed_download_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "DIRECT_READ_MIN", 1)
    url, thread = _short_body_server(declared=5_000_000, sent=300_000)
    record = {
        "artifactId": "20250101-001",
        "artifactType": "generic",
        "project": "p",
        "fileName": "f.bin",
        "size": 5_000_000,
        "sha256": "0" * 64,
        "createdUtc": "2025-01-01T00:00:00Z",
    }

    client = DropBoxClient(url, RW)
    monkeypatch.setattr(client, "get", lambda artifact_id: ArtifactRecord.from_json(record))
    dest = tmp_path / "out.bin"
    with client, pytest.raises(httpx.RemoteProtocolError):
        client.download("20250101-001", dest)
    thread.join(timeout=10)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def _form_body(content: bytes) -> tuple[bytes, str]:
    boundary = "xYz" + os.urandom(8).hex()
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="project"\r\n\r\np\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    ).encode()
    body += content + f"\r\n--{boundary}\r\n".encode()
    body += b'Content-Disposition: form-data; name="label"\r\n\r\nafter\r\n'
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def _pieces(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    start, turn = 0, 0
    while start < len(body):
        size = sizes[turn % len(sizes)]
        yield body[start : start + size]
        start, turn = start + size, turn + 1


@pytest.mark.parametrize("sizes", [[1, 7, 300], [65536], [3 * 1024 * 1024], [5000, 2_000_000]])
def test_received_file_is_exact_whatever_the_chunking(tmp_path: Path, sizes: list[int]) -> None:
    size = 2 * WRITE_BATCH + 3 if sizes != [1, 7, 300] else 200_000
    content = os.urandom(size)
    body, content_type = _form_body(content)
    store = Store(tmp_path / "store")
    form = asyncio.run(receive_form(store, content_type, _pieces(body, sizes)))
    assert form.pending is not None
    form.pending.close()
    assert form.pending.path.read_bytes() == content
    assert form.pending.size == len(content)
    assert form.pending.sha256 == hashlib.sha256(content).hexdigest()
    assert form.fields == {"project": "p", "label": "after"}
    form.discard()


def test_a_failing_disk_write_fails_the_upload_and_removes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, content_type = _form_body(os.urandom(3 * WRITE_BATCH))
    store = Store(tmp_path / "store")
    calls: list[int] = []
    original = PendingUpload.absorb

    def failing(self: PendingUpload, chunks: list[memoryview]) -> None:
        calls.append(len(chunks))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        original(self, chunks)

    monkeypatch.setattr(PendingUpload, "absorb", failing)
    with pytest.raises(OSError, match="No space"):
        asyncio.run(receive_form(store, content_type, _pieces(body, [65536])))
    assert len(calls) == 2
    assert list((tmp_path / "store" / ".tmp").iterdir()) == []


def test_keep_freed_memory_applies_with_glibc() -> None:
    code = (
        "from orchestrator.dropboxmini.server import keep_freed_memory\nprint(keep_freed_memory())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    linux_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert done.stdout.strip() == ("True" if linux_glibc else "False")


def test_fastest_protocols_fall_back_to_pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.dropboxmini import server

    monkeypatch.setattr(server, "_importable", lambda module: False)
    assert server.fastest_protocols() == ("h11", "asyncio")
    monkeypatch.setattr(server, "_importable", lambda module: True)
    assert server.fastest_protocols() == ("httptools", "uvloop")
