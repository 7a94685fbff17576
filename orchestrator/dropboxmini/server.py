"""The DropBoxMini-compatible HTTP server: a FastAPI app over one :class:`Store`."""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.dropboxmini.keys import ApiKey, KeyRing, load_keys
from orchestrator.dropboxmini.protocol import (
    API_PREFIX,
    DEFAULT_MAX_BYTES,
    KEY_HEADER,
    ArtifactType,
    ConfigError,
    DropBoxError,
    ForbiddenError,
    MethodNotAllowedError,
    StoreDamagedError,
    TooLargeError,
    error_body,
    format_number,
    format_utc,
    parse_limit,
    parse_number,
    parse_utc,
    utc_now,
    validate_artifact_type,
    validate_project,
)
from orchestrator.dropboxmini.receive import FORM_OVERHEAD, receive_form
from orchestrator.dropboxmini.store import Store

log = logging.getLogger("orchestrator.dropboxmini")
SERVICE = "dropboxmini"

_key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False)

_UPLOAD_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["artifactType", "project", "file"],
                    "properties": {
                        "artifactType": {"type": "string", "enum": [t.value for t in ArtifactType]},
                        "project": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                        "file": {"type": "string", "format": "binary"},
                        "baseline": {"type": "string", "pattern": "^[0-9]{1,9}$"},
                        "patch": {"type": "string", "pattern": "^[0-9]{1,9}$"},
                        "label": {"type": "string"},
                        "description": {"type": "string"},
                        "tags": {"type": "string", "description": "comma-separated"},
                        "source": {"type": "string"},
                        "createdBy": {"type": "string"},
                    },
                }
            }
        },
    }
}


def require_key(request: Request, presented: Annotated[str | None, Depends(_key_header)]) -> ApiKey:
    """The caller's key (401 when missing or unknown)."""
    ring: KeyRing = request.app.state.keys
    return ring.lookup(presented)


Key = Annotated[ApiKey, Depends(require_key)]


@dataclass(frozen=True)
class Identity:
    """What ``/health`` and ``/status`` say about the running build."""

    version: str
    build_utc: str
    source_revision: str

    @classmethod
    def from_environment(cls) -> Identity:
        try:
            version = metadata.version("orch")
        except metadata.PackageNotFoundError:
            version = "0+unknown"
        built = datetime.fromtimestamp(Path(__file__).stat().st_mtime, tz=UTC)
        return cls(
            version=os.environ.get("DROPBOX_VERSION", version),
            build_utc=os.environ.get("DROPBOX_BUILD_UTC", format_utc(built)),
            source_revision=os.environ.get("DROPBOX_SOURCE_REVISION", "unknown"),
        )


class _ArtifactFile(FileResponse):
    chunk_size = 1024 * 1024


def _error(exc: DropBoxError) -> JSONResponse:
    headers = {"Allow": "GET"} if isinstance(exc, MethodNotAllowedError) else None
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    name = ".".join(loc) or "request"
    return f"field '{name}': {first.get('msg', 'is not valid')}"


def create_app(
    store: Store,
    keys: KeyRing,
    *,
    identity: Identity | None = None,
) -> FastAPI:
    """The app serving ``store`` to holders of ``keys``."""
    ident = identity or Identity.from_environment()
    app = FastAPI(
        title="DropBoxMini",
        version=ident.version,
        description="Stores and serves derived artifacts (orch's DropBoxMini-compatible server).",
    )

    async def _dropbox_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DropBoxError)
        if isinstance(exc, StoreDamagedError):
            log.error("%s %s: store damaged: %s", request.method, request.url.path, exc.detail)
        return _error(exc)

    async def _request_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_body("invalid_field", _validation_detail(exc)), status_code=422)

    async def _http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return JSONResponse(
                error_body("not_found", f"no such route: {request.url.path}"), status_code=404
            )
        if exc.status_code == 405:
            return JSONResponse(
                error_body(
                    "method_not_allowed", f"{request.method} is not allowed on {request.url.path}"
                ),
                status_code=405,
                headers=exc.headers,
            )
        return JSONResponse(error_body("http_error", str(exc.detail)), status_code=exc.status_code)

    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "the server failed unexpectedly; see its log"),
            status_code=500,
        )

    app.state.keys = keys
    app.add_exception_handler(DropBoxError, _dropbox_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    def health_body() -> dict[str, Any]:
        status = store.status()
        return {
            "status": "ok",
            "service": SERVICE,
            "baseline": status.baseline_text,
            "buildUtc": ident.build_utc,
            "sourceRevision": ident.source_revision,
            "version": ident.version,
            "utc": format_utc(utc_now()),
            "artifactCount": status.artifact_count,
        }

    @app.get(
        "/health",
        summary="Public health (platform shape plus artifactCount)",
        responses={503: {"description": "the store is damaged: status 'damaged', with detail"}},
    )
    def health() -> JSONResponse:
        try:
            return JSONResponse(health_body())
        except StoreDamagedError as exc:
            log.error("store damaged: %s", exc.detail)
            damaged = {
                "status": "damaged",
                "service": SERVICE,
                "baseline": format_number(store.baseline),
                "buildUtc": ident.build_utc,
                "sourceRevision": ident.source_revision,
                "version": ident.version,
                "utc": format_utc(utc_now()),
                "artifactCount": None,
                **exc.to_json(),
            }
            return JSONResponse(damaged, status_code=exc.status)

    @app.get(f"{API_PREFIX}/status", summary="Service status")
    def status(key: Key) -> dict[str, Any]:
        return health_body()

    @app.get(f"{API_PREFIX}/artifacts", summary="List artifacts, newest first")
    def list_artifacts(
        request: Request,
        key: Key,
        project: str | None = None,
        artifact_type: Annotated[str | None, Query(alias="artifactType")] = None,
        baseline: str | None = None,
        patch: str | None = None,
        label: str | None = None,
        since: str | None = None,
        limit: str | None = None,
    ) -> dict[str, Any]:
        records = store.list(
            project=None if project is None else validate_project(project),
            artifact_type=None if artifact_type is None else validate_artifact_type(artifact_type),
            baseline=parse_number("baseline", baseline),
            patch=parse_number("patch", patch),
            label=label,
            since=parse_utc("since", since),
            limit=parse_limit(limit),
            max_age_hours=key.max_artifact_age_hours if key.role == "agent" else None,
        )
        base = str(request.base_url)
        return {"artifacts": [r.to_json(base) for r in records], "count": len(records)}

    @app.get(f"{API_PREFIX}/artifacts/{{artifactId}}", summary="One artifact's metadata")
    def get_artifact(request: Request, key: Key, artifactId: str) -> dict[str, Any]:
        record = store.get(artifactId)
        _check_window(key, record.artifact_id, key.may_read(record))
        return record.to_json(str(request.base_url))

    @app.get(
        f"{API_PREFIX}/artifacts/{{artifactId}}/download",
        summary="An artifact's bytes",
        response_class=FileResponse,
    )
    def download(key: Key, artifactId: str) -> FileResponse:
        record = store.get(artifactId)
        _check_window(key, record.artifact_id, key.may_read(record))
        return _ArtifactFile(
            store.path_of(record.artifact_id),
            media_type="application/octet-stream",
            filename=record.file_name,
            headers={"X-Artifact-Sha256": record.sha256},
        )

    @app.post(f"{API_PREFIX}/artifacts", include_in_schema=False)
    def refuse_post_on_listing(key: Key) -> None:
        raise MethodNotAllowedError(
            f"POST {API_PREFIX}/artifacts is not an upload route; "
            f"upload with POST {API_PREFIX}/upload"
        )

    @app.post(
        f"{API_PREFIX}/upload",
        summary="Upload an artifact (multipart/form-data)",
        status_code=201,
        openapi_extra=_UPLOAD_SCHEMA,
        responses={200: {"description": "identical delivery-patch already stored"}},
    )
    async def upload(request: Request, key: Key) -> JSONResponse:
        if not key.role.may_upload:
            raise ForbiddenError(f"a {key.role.value} key may not upload; use a readwrite key")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > store.max_bytes + FORM_OVERHEAD:
            raise TooLargeError(
                f"the upload is {length} bytes; this server accepts files up to "
                f"{store.max_bytes} bytes"
            )
        form = await receive_form(store, request.headers.get("content-type"), request.stream())
        try:
            fields = form.upload_fields()
            assert form.pending is not None
            result = await run_in_threadpool(store.commit, form.pending, fields)
        finally:
            form.discard()
        return JSONResponse(
            result.record.to_json(str(request.base_url)),
            status_code=201 if result.created else 200,
        )

    return app


def _check_window(key: ApiKey, artifact_id: str, allowed: bool) -> None:
    if not allowed:
        raise ForbiddenError(
            f"artifact {artifact_id} is older than this agent key's window of "
            f"{key.max_artifact_age_hours:g} hours"
        )


def baseline_from_environment(environ: dict[str, str] | None = None) -> int | None:
    env = os.environ if environ is None else environ
    try:
        return parse_number("DROPBOX_BASELINE", env.get("DROPBOX_BASELINE"))
    except DropBoxError as exc:
        raise ConfigError(exc.detail) from None


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 16 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Let glibc keep freed heap memory for reuse (Linux only; False when not applied).

    A large upload passes through many short-lived buffers of a few hundred KiB; by default
    glibc serves each from fresh pages (mmap, or heap it trimmed a moment before), and the
    page faults and zeroing cost the server about a fifth of its CPU time. With these
    thresholds the same memory is reused; the peak does not grow.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )


def fastest_protocols() -> tuple[str, str]:
    """uvicorn's ``(http, loop)``: the C implementations when installed, else pure Python."""
    http = "httptools" if _importable("httptools") else "h11"
    loop = "uvloop" if _importable("uvloop") else "asyncio"
    return http, loop


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    baseline: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    keys: KeyRing | None = None,
) -> None:
    """Serve the store at ``root`` until interrupted. Keys default to the environment."""
    import uvicorn

    ring = keys if keys is not None else load_keys(os.environ)
    if not ring.keys:
        raise ConfigError(
            "no API keys configured: set DROPBOX_API_KEYS_JSON "
            '(e.g. {"keys": [{"value": "...", "role": "readwrite"}]})'
        )
    current = baseline if baseline is not None else baseline_from_environment()
    store = Store(root, baseline=current, max_bytes=max_bytes, check=True)
    http, loop = fastest_protocols()
    keep_freed_memory()
    log.info("DropBoxMini serving %s on http://%s:%d (%s)", store.root, host, port, http)
    uvicorn.run(
        create_app(store, ring), host=host, port=port, log_level="warning", http=http, loop=loop
    )
