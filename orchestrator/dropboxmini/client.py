"""Clients: :class:`DropBoxClient` over HTTP, :class:`LocalStoreClient` over a store folder.

Both offer ``upload``, ``list``, ``get`` and ``download`` with the same signatures and raise
the errors of :mod:`orchestrator.dropboxmini.protocol`, so orch publishes with one code path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import httpx

from orchestrator.dropboxmini.protocol import (
    API_PREFIX,
    KEY_HEADER,
    ArtifactRecord,
    ConfigError,
    DropBoxError,
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
from orchestrator.dropboxmini.store import CHUNK, Store

DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.25


class ArtifactClient(Protocol):
    def upload(self, path: Path, fields: UploadFields) -> ArtifactRecord: ...

    def list(self, **filters: Any) -> list[ArtifactRecord]: ...

    def get(self, artifact_id: str) -> ArtifactRecord: ...

    def download(self, artifact_id: str, dest: Path) -> ArtifactRecord: ...


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


def _write_atomically(dest: Path, chunks: Iterator[bytes]) -> None:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        tmp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
        data: dict[str, str] | None = None,
        upload: tuple[str, Callable[[], BinaryIO]] | None = None,
    ) -> Iterator[httpx.Response]:
        """One request with retries; yields the successful (streamed) response.

        Connection errors and 5xx answers are retried; a 4xx answer raises at once.
        """
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            handle = None if upload is None else upload[1]()
            try:
                files = None
                if upload is not None and handle is not None:
                    files = {"file": (upload[0], handle, "application/octet-stream")}
                request = self._http.build_request(
                    method, path, params=params, data=data, files=files
                )
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                if handle is not None:
                    handle.close()
            try:
                if response.status_code >= 500:
                    response.read()
                    last = f"HTTP {response.status_code}"
                    continue
                if response.status_code >= 400:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    raise error_from_response(response.status_code, body)
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
            data=data,
            upload=(name, lambda: path.open("rb")),
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
        """Stream the artifact's bytes to ``dest`` (replaced only when complete)."""
        record = self.get(artifact_id)
        with self._request("GET", record.download_path) as response:
            _write_atomically(Path(dest), response.iter_bytes(CHUNK))
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
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        try:
            shutil.copyfile(source, tmp)
            tmp.replace(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return record


def connect(url: str | None, key: str | None, root: Path) -> DropBoxClient | LocalStoreClient:
    """An HTTP client when ``url`` is given (then ``key`` is required), else the local store."""
    if url:
        if not key:
            raise ConfigError("a DropBoxMini URL needs a key (ORCH_DROPBOX_KEY or --key)")
        return DropBoxClient(url, key)
    return LocalStoreClient(root)
