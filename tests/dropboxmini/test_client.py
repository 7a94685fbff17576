"""The HTTP client against the live server, a failing real server, and a closed port."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from orchestrator.dropboxmini import (
    ConflictError,
    DropBoxClient,
    FieldError,
    ForbiddenError,
    IntegrityError,
    LocalStoreClient,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    UploadFields,
)
from tests.dropboxmini.conftest import READ, RW, Live, zip_bytes


def no_sleep(_: float) -> None:
    return None


def test_upload_list_get_download(live: Live, project: str, tmp_path: Path) -> None:
    source = tmp_path / "patch.zip"
    source.write_bytes(zip_bytes("client"))
    with DropBoxClient(live.url, RW) as client:
        fields = UploadFields(
            "delivery-patch", project, baseline="18", patch="11", tags=["x", "y"], label="L"
        )
        record = client.upload(source, fields)
        assert client.upload(source, fields) == record
        assert record.file_name == "patch.zip" and record.tags == ("x", "y")
        assert client.get(record.artifact_id) == record
        assert client.list(project=project, patch="0011") == [record]
        assert client.list(project=project, label="other") == []
        dest = tmp_path / "out" / "copy.zip"
        client.download(record.artifact_id, dest)
        assert dest.read_bytes() == source.read_bytes()
        assert client.status()["artifactCount"] >= 1


def test_4xx_answers_raise_clear_errors_without_retry(
    live: Live, project: str, tmp_path: Path
) -> None:
    source = tmp_path / "a.txt"
    source.write_text("not a zip")
    with DropBoxClient(live.url, RW, sleep=no_sleep) as client:
        with pytest.raises(FieldError) as caught:
            client.upload(source, UploadFields("delivery-patch", project, baseline="18", patch="1"))
        assert caught.value.field == "file" and "zip" in caught.value.detail
        with pytest.raises(NotFoundError):
            client.get("19990101-001")
        source.write_bytes(zip_bytes("a"))
        client.upload(source, UploadFields("delivery-patch", project, baseline="18", patch="2"))
        source.write_bytes(zip_bytes("b"))
        with pytest.raises(ConflictError, match="0002"):
            client.upload(source, UploadFields("delivery-patch", project, baseline="18", patch="2"))
    with DropBoxClient(live.url, READ) as client, pytest.raises(ForbiddenError):
        client.upload(source, UploadFields("generic", project))
    with DropBoxClient(live.url, "wrong") as client, pytest.raises(UnauthorizedError):
        client.list()


def test_client_checks_filters_before_sending(live: Live) -> None:
    with DropBoxClient(live.url, READ) as client:
        with pytest.raises(FieldError, match="'baseline'"):
            client.list(baseline="abc")
        with pytest.raises(TypeError):
            client.list(colour="red")


class FlakyHandler(BaseHTTPRequestHandler):
    failures = 2
    calls = 0

    def do_GET(self) -> None:
        cls = type(self)
        cls.calls += 1
        if cls.calls <= cls.failures:
            body, status = b'{"error": "busy", "detail": "try later"}', 503
        else:
            body, status = json.dumps({"status": "ok", "artifactCount": 0}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def flaky() -> Iterator[str]:
    FlakyHandler.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_5xx_answers_are_retried_with_backoff(flaky: str) -> None:
    waits: list[float] = []
    with DropBoxClient(flaky, RW, sleep=waits.append, backoff=0.5) as client:
        assert client.status()["status"] == "ok"
    assert FlakyHandler.calls == 3
    assert waits == [0.5, 1.0]


def test_retries_are_bounded(flaky: str) -> None:
    FlakyHandler.failures = 100
    try:
        with (
            DropBoxClient(flaky, RW, sleep=no_sleep) as client,
            pytest.raises(UnavailableError, match=r"4 attempts.*HTTP 503"),
        ):
            client.status()
    finally:
        FlakyHandler.failures = 2
    assert FlakyHandler.calls == 4


def test_connection_refused_is_retried_then_unavailable(tmp_path: Path) -> None:
    waits: list[float] = []
    source = tmp_path / "f"
    source.write_bytes(b"x")
    # A port bound but not listening refuses every connection, and nobody else can take it.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with (
            DropBoxClient(f"http://127.0.0.1:{port}", RW, sleep=waits.append) as client,
            pytest.raises(UnavailableError, match="ConnectError"),
        ):
            client.upload(source, UploadFields("generic", "p"))
    assert len(waits) == 3


def test_attempt_count_with_a_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ReadError("reset", request=request)
        return httpx.Response(502)

    transport = httpx.MockTransport(handler)
    with (
        DropBoxClient("http://dropbox.invalid", RW, transport, sleep=no_sleep) as client,
        pytest.raises(UnavailableError, match="HTTP 502"),
    ):
        client.list()
    assert len(seen) == 4
    assert all(r.headers["X-API-Key"] == RW for r in seen)


def test_local_store_client_has_the_same_methods(tmp_path: Path) -> None:
    source = tmp_path / "p.zip"
    source.write_bytes(zip_bytes())
    client = LocalStoreClient(tmp_path / "store")
    record = client.upload(source, UploadFields("delivery-patch", "p", baseline="1", patch="1"))
    assert record.file_name == "p.zip"
    assert client.list(project="p", patch=1) == [record]
    assert client.get(record.artifact_id) == record
    client.download(record.artifact_id, tmp_path / "copy.zip")
    assert (tmp_path / "copy.zip").read_bytes() == source.read_bytes()
    with pytest.raises(FieldError, match="'project'"):
        client.upload(source, UploadFields("generic", "../up"))


def _damage(path: Path) -> None:
    """Flip one byte in the middle of a stored file, keeping its size."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024 + 5])
def test_a_damaged_stored_copy_is_refused_and_nothing_is_written(
    live: Live, project: str, tmp_path: Path, size: int
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    with DropBoxClient(live.url, RW) as client:
        record = client.upload(source, UploadFields("generic", project))
        _damage(live.store.path_of(record.artifact_id))
        dest = tmp_path / "out" / "data.bin"
        with pytest.raises(IntegrityError) as caught:
            client.download(record.artifact_id, dest)
    assert record.artifact_id in str(caught.value) and record.sha256 in str(caught.value)
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_the_local_store_refuses_a_damaged_copy_too(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"evidence\n" * 1000)
    with LocalStoreClient(tmp_path / "store") as client:
        record = client.upload(source, UploadFields("generic", "proj"))
        good = tmp_path / "good.bin"
        client.download(record.artifact_id, good)
        assert good.read_bytes() == source.read_bytes()
        _damage(client.store.path_of(record.artifact_id))
        with pytest.raises(IntegrityError, match="not the recorded ones"):
            client.download(record.artifact_id, good)
    assert good.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "good.bin", "store"]
