"""Clients: :class:`DropBoxClient` over HTTP, :class:`LocalStoreClient` over a store folder.

Both offer ``upload``, ``list``, ``get`` and ``download`` with the same signatures and raise
the errors of :mod:`orchestrator.dropboxmini.protocol`, so orch publishes with one code path.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from orchestrator.dropboxmini.protocol import (
    API_PREFIX,
    KEY_HEADER,
    ArtifactRecord,
    ConfigError,
    DropBoxError,
    StoreDamagedError,
    UnavailableError,
    UploadFields,
    error_from_response,
    format_utc,
    parse_limit,
    parse_number,
    parse_utc,
    validate_artifact_type,
    validate_project,
)
from orchestrator.dropboxmini.store import CHUNK, WRITE_PIECE, Store
from orchestrator.dropboxmini.verify import file_chunks, save_verified

DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.25
DOWNLOAD_CHUNK = WRITE_PIECE
DIRECT_READ_MIN = 4 * 1024 * 1024


def _filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Checks list filters with the contract's rules; returns them normalised."""
    allowed = {"project", "artifact_type", "baseline", "patch", "label", "since", "limit"}
    unknown = set(filters) - allowed
    if unknown:
        raise TypeError(f"unknown list filters: {', '.join(sorted(unknown))}")
    since = filters.get("since")
    if since is not None and not isinstance(since, datetime):
        since = parse_utc("since", str(since))
    return {
        "project": None if filters.get("project") is None else validate_project(filters["project"]),
        "artifact_type": None
        if filters.get("artifact_type") is None
        else validate_artifact_type(str(filters["artifact_type"])),
        "baseline": parse_number("baseline", filters.get("baseline")),
        "patch": parse_number("patch", filters.get("patch")),
        "label": filters.get("label"),
        "since": since,
        "limit": parse_limit(filters.get("limit")),
    }


@dataclass(frozen=True)
class _FileUpload:
    """A ``multipart/form-data`` body for httpx: text fields, then one file read from disk.

    httpx streams the open file in small pieces while the body is sent and gives the exact
    ``Content-Length`` up front, so memory stays flat whatever the file's size.
    """

    fields: dict[str, str]
    file_name: str
    path: Path


def _direct_socket(response: httpx.Response) -> socket.socket | None:
    """The plain TCP socket under ``response`` when its body may be read from it directly.

    Only a large, unencoded ``Content-Length`` body of an HTTP/1.1 answer over plain TCP
    qualifies; anything else (a test transport, TLS, chunked or compressed bodies) is read
    through httpx.
    """
    if response.url.scheme != "http" or response.http_version != "HTTP/1.1":
        return None
    headers = response.headers
    if "transfer-encoding" in headers or headers.get("content-encoding", "identity") != "identity":
        return None
    length = headers.get("content-length", "")
    if not length.isdigit() or int(length) < DIRECT_READ_MIN:
        return None
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    sock = None if get_extra_info is None else get_extra_info("socket")
    if not isinstance(sock, socket.socket) or isinstance(sock, ssl.SSLSocket):
        return None
    return sock


def _body_chunks(
    response: httpx.Response, read_timeout: float | None
) -> Iterator[bytes | memoryview]:
    """The response body in large chunks, each valid until the next one is asked for.

    A large plain body is read straight from the socket into one reused buffer once httpx
    has handed over the bytes it already holds: its HTTP/1.1 parser returns everything it
    has buffered as the body's first piece, so the rest of the body is exactly the next
    ``Content-Length - len(first)`` bytes on the socket. The connection is then closed
    rather than reused.
    """
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        yield from response.iter_bytes(CHUNK)
        return
    sock = _direct_socket(response)
    if sock is None:
        yield from response.iter_raw()
        return
    expected = int(response.headers["content-length"])
    raw = response.iter_raw()
    try:
        first = next(raw, b"")
        yield first
        remaining = expected - len(first)
        buffer = bytearray(DOWNLOAD_CHUNK)
        view = memoryview(buffer)
        sock.settimeout(read_timeout)
        while remaining > 0:
            try:
                count = sock.recv_into(buffer, min(remaining, DOWNLOAD_CHUNK))
            except TimeoutError as exc:
                raise httpx.ReadTimeout(str(exc) or "timed out", request=response.request) from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc), request=response.request) from exc
            if count == 0:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body: "
                    f"received {expected - remaining} bytes, expected {expected}",
                    request=response.request,
                )
            remaining -= count
            yield view[:count]
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()


class DropBoxClient:
    """HTTP client; connection errors and 5xx answers are retried with exponential backoff."""

    def __init__(
        self,
        url: str,
        key: str,
        transport: httpx.BaseTransport | None = None,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.url,
            headers={KEY_HEADER: key},
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DropBoxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        upload: _FileUpload | None = None,
    ) -> Iterator[httpx.Response]:
        """One request with retries; yields the successful (streamed) response.

        Connection errors and 5xx answers are retried; a 4xx answer raises at once.
        ``upload``'s file is opened afresh, from its start, for each attempt.
        """
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with contextlib.ExitStack() as stack:
                    if upload is None:
                        request = self._http.build_request(method, path, params=params)
                    else:
                        handle = stack.enter_context(upload.path.open("rb"))
                        request = self._http.build_request(
                            method,
                            path,
                            params=params,
                            data=upload.fields,
                            files={"file": (upload.file_name, handle, "application/octet-stream")},
                        )
                    response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            try:
                if response.status_code >= 400:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    error = error_from_response(response.status_code, body)
                    if error.code == StoreDamagedError.code:  # retrying cannot help
                        raise StoreDamagedError(
                            f"DropBoxMini at {self.url} reports its store damaged: {error.detail}"
                        )
                    if response.status_code < 500:
                        raise error
                    last = f"HTTP {response.status_code}"
                    if isinstance(body, dict) and isinstance(body.get("detail"), str):
                        last += f": {error.detail}"
                    continue
                yield response
                return
            finally:
                response.close()
        raise UnavailableError(
            f"DropBoxMini at {self.url} did not answer {method} {path} after "
            f"{self.attempts} attempts ({last})"
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._request(method, path, **kwargs) as response:
            response.read()
            try:
                return response.json()
            except ValueError as exc:
                raise DropBoxError(f"DropBoxMini answered {path} with non-JSON") from exc

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"{API_PREFIX}/status")
        return result

    def upload(self, path: Path, fields: UploadFields) -> ArtifactRecord:
        """Upload the file at ``path`` (streamed from disk on every attempt)."""
        path = Path(path)
        name = fields.file_name or path.name
        data = fields.form()
        body = self._json(
            "POST",
            f"{API_PREFIX}/upload",
            upload=_FileUpload(data, name, path),
        )
        return ArtifactRecord.from_json(body)

    def list(self, **filters: Any) -> list[ArtifactRecord]:
        checked = _filters(filters)
        params: dict[str, str] = {}
        for name, wire in (
            ("project", "project"),
            ("artifact_type", "artifactType"),
            ("label", "label"),
        ):
            if checked[name] is not None:
                params[wire] = str(checked[name])
        for name in ("baseline", "patch"):
            if checked[name] is not None:
                params[name] = str(checked[name])
        if checked["since"] is not None:
            params["since"] = format_utc(checked["since"])
        params["limit"] = str(checked["limit"])
        body = self._json("GET", f"{API_PREFIX}/artifacts", params=params)
        return [ArtifactRecord.from_json(item) for item in body.get("artifacts", [])]

    def get(self, artifact_id: str) -> ArtifactRecord:
        return ArtifactRecord.from_json(self._json("GET", f"{API_PREFIX}/artifacts/{artifact_id}"))

    def download(self, artifact_id: str, dest: Path) -> ArtifactRecord:
        """Stream the artifact's bytes to ``dest``, replaced only when they are complete and
        have the recorded sha256 (:class:`IntegrityError` otherwise)."""
        record = self.get(artifact_id)
        with self._request("GET", record.download_path) as response:
            save_verified(Path(dest), _body_chunks(response, self._http.timeout.read), record)
        return record


class LocalStoreClient:
    """The same methods as :class:`DropBoxClient`, working directly on a store folder."""

    def __init__(self, root: Path, baseline: int | None = None, **store_options: Any) -> None:
        self.store = Store(Path(root), baseline=baseline, **store_options)

    def close(self) -> None:
        return None

    def __enter__(self) -> LocalStoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(self, path: Path, fields: UploadFields) -> ArtifactRecord:
        path = Path(path)
        if fields.file_name is None:
            fields = UploadFields(**{**fields.__dict__, "file_name": path.name})
        with path.open("rb") as handle:
            return self.store.put(handle, fields).record

    def list(self, **filters: Any) -> list[ArtifactRecord]:
        checked = _filters(filters)
        return self.store.list(**checked)

    def get(self, artifact_id: str) -> ArtifactRecord:
        return self.store.get(artifact_id)

    def download(self, artifact_id: str, dest: Path) -> ArtifactRecord:
        record = self.store.get(artifact_id)
        source = self.store.path_of(artifact_id)
        save_verified(Path(dest), file_chunks(source, WRITE_PIECE), record)
        return record


def connect(url: str | None, key: str | None, root: Path) -> DropBoxClient | LocalStoreClient:
    """An HTTP client when ``url`` is given (then ``key`` is required), else the local store."""
    if url:
        if not key:
            raise ConfigError("a DropBoxMini URL needs a key (ORCH_DROPBOX_KEY or --key)")
        return DropBoxClient(url, key)
    return LocalStoreClient(root)
