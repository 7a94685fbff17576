"""The DropBoxMini contract: names, records, errors and every validation rule.

Both the HTTP server and the embedded local store validate through this module, so a rule
changes in one place only.

Exceptions::

    DropBoxError                 root; carries ``status``, ``code`` and ``detail``
    ├── ConfigError              bad key configuration (500)
    ├── UnauthorizedError        missing or unknown key (401)
    ├── ForbiddenError           the key's role may not do this (403)
    ├── NotFoundError            unknown artifact or route (404)
    ├── MethodNotAllowedError    wrong method on a route (405)
    ├── ConflictError            delivery-patch number already stored (409)
    ├── TooLargeError            over the size limit (413)
    ├── FieldError               a field fails validation (422); ``field`` names it
    └── UnavailableError         the service could not be reached or kept failing (503)
        └── StoreDamagedError    the store cannot be used as it is: damaged, unreadable or
                                 not writable (503, ``store_damaged``)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

log = logging.getLogger("orchestrator.dropboxmini")

API_PREFIX = "/api/dropbox"
KEY_HEADER = "X-API-Key"
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000

_PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMBER_RE = re.compile(r"[0-9]{1,9}")
_ARTIFACT_ID_RE = re.compile(r"[0-9]{8}-[0-9]{3,6}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_PROJECT = 128
_MAX_FILE_NAME_BYTES = 255
_MAX_TEXT = {"label": 200, "description": 4000, "source": 500, "createdBy": 200}
_MAX_TAGS = 50
_MAX_TAG = 100


class ArtifactType(StrEnum):
    DELIVERY_PATCH = "delivery-patch"
    SCREENSHOT = "screenshot"
    TEST_RESULT = "test-result"
    EVIDENCE_BUNDLE = "evidence-bundle"
    GENERIC = "generic"


class Role(StrEnum):
    READ = "read"
    READWRITE = "readwrite"
    AGENT = "agent"

    @property
    def may_upload(self) -> bool:
        return self is not Role.READ


# --- errors -----------------------------------------------------------------------------


class DropBoxError(Exception):
    """Root of every error the package raises; maps to one HTTP status and error code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_json(self) -> dict[str, str]:
        return error_body(self.code, self.detail)


class ConfigError(DropBoxError):
    status, code = 500, "config_error"


class UnauthorizedError(DropBoxError):
    status, code = 401, "unauthorized"


class ForbiddenError(DropBoxError):
    status, code = 403, "forbidden"


class NotFoundError(DropBoxError):
    status, code = 404, "not_found"


class MethodNotAllowedError(DropBoxError):
    status, code = 405, "method_not_allowed"


class ConflictError(DropBoxError):
    status, code = 409, "conflict"


class TooLargeError(DropBoxError):
    status, code = 413, "too_large"


class FieldError(DropBoxError):
    status, code = 422, "invalid_field"

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"field '{field_name}': {problem}")
        self.field = field_name


class UnavailableError(DropBoxError):
    status, code = 503, "unavailable"


class StoreDamagedError(UnavailableError):
    """The store met damage it cannot repair (a database that is not one, a missing file,
    a root that is not a writable folder). The detail names the path and what to do."""

    status, code = 503, "store_damaged"


class StoreFullError(UnavailableError):
    """The store's disk is full: nothing is damaged, and the upload can be tried again once
    there is space (HTTP 507 Insufficient Storage)."""

    status, code = 507, "store_full"


class IntegrityError(DropBoxError):
    """Downloaded bytes differ from the artifact's recorded size or sha256 (raised by
    clients; the server never answers with it)."""

    status, code = 502, "integrity_error"


_BY_STATUS: dict[int, type[DropBoxError]] = {
    cls.status: cls
    for cls in (
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        TooLargeError,
        FieldError,
        UnavailableError,
    )
}


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def error_from_response(status: int, body: Any) -> DropBoxError:
    """Rebuild the error a server answered, keeping its code and detail."""
    code = body.get("error") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, str):
        detail = f"the server answered HTTP {status} without an error body"
    cls = _BY_STATUS.get(status, DropBoxError)
    err = DropBoxError.__new__(cls)
    DropBoxError.__init__(err, detail)
    err.status = status
    if isinstance(code, str):
        err.code = code
    if isinstance(err, FieldError):
        match = re.match(r"field '([^']+)'", detail)
        err.field = match.group(1) if match else ""
    return err


# --- numbers, names, times --------------------------------------------------------------


def parse_number(field_name: str, value: str | int | None, *, required: bool = False) -> int | None:
    """A baseline or patch number: ASCII digits, compared as an integer (``0018`` == ``18``)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise FieldError(field_name, "is required for this artifact type")
        return None
    if isinstance(value, bool):
        raise FieldError(field_name, "must be a whole number such as 0018")
    if isinstance(value, int):
        if 0 <= value < 10**9:
            return value
        raise FieldError(field_name, "must be a whole number between 0 and 999999999")
    text = value.strip()
    if not _NUMBER_RE.fullmatch(text):
        raise FieldError(field_name, f"must be a whole number such as 0018, got {text[:40]!r}")
    return int(text)


def format_number(value: int | None) -> str | None:
    return None if value is None else f"{value:04d}"


def validate_project(name: str | None) -> str:
    if name is None or name == "":
        raise FieldError("project", "is required")
    if len(name) > _MAX_PROJECT or not _PROJECT_RE.fullmatch(name):
        raise FieldError(
            "project",
            "must start with a letter or digit and contain only letters, digits, '.', '_' "
            f"and '-' (at most {_MAX_PROJECT} characters), got {name[:60]!r}",
        )
    return name


def validate_artifact_type(value: str | None) -> ArtifactType:
    if value is None or value == "":
        raise FieldError("artifactType", "is required")
    try:
        return ArtifactType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in ArtifactType)
        raise FieldError("artifactType", f"must be one of {allowed}, got {value[:40]!r}") from None


def is_artifact_id(value: str) -> bool:
    return _ARTIFACT_ID_RE.fullmatch(value) is not None


def sanitize_file_name(name: str | None) -> str:
    """The last path component of a client's file name, safe to join under the store root.

    Directories (``/`` or ``\\``) are stripped, control characters (NUL included) become
    ``_``; an empty result, ``.`` or ``..`` is refused.
    """
    if name is None:
        raise FieldError("file", "has no file name")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _CONTROL_RE.sub("_", base).strip()
    if base in ("", ".", ".."):
        raise FieldError("file", f"file name {name[:60]!r} names no file")
    encoded = base.encode("utf-8", errors="replace")
    if len(encoded) > _MAX_FILE_NAME_BYTES:
        stem, dot, ext = base.rpartition(".")
        keep = ("." + ext) if dot and len(ext) <= 16 else ""
        head = (stem if keep else base).encode("utf-8", errors="replace")
        head = head[: _MAX_FILE_NAME_BYTES - len(keep.encode())]
        base = head.decode("utf-8", errors="ignore") + keep
    return base


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(field_name: str, value: str | None) -> datetime | None:
    """An ISO-8601 moment (``Z`` or offset; a bare date means its midnight UTC)."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(
            field_name, f"must be an ISO-8601 time such as 2025-01-31T12:00:00Z, got {value[:40]!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_limit(value: str | int | None) -> int:
    number = parse_number("limit", value)
    if number is None:
        return DEFAULT_LIST_LIMIT
    if not 1 <= number <= MAX_LIST_LIMIT:
        raise FieldError("limit", f"must be between 1 and {MAX_LIST_LIMIT}, got {number}")
    return number


def _text(field_name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    limit = _MAX_TEXT[field_name]
    if len(value) > limit:
        raise FieldError(field_name, f"is longer than {limit} characters")
    if "\x00" in value:
        raise FieldError(field_name, "contains a NUL character")
    return value


def parse_tags(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Tags as a comma-separated string or a sequence; blanks dropped, order kept."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    tags = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if len(tags) > _MAX_TAGS:
        raise FieldError("tags", f"has more than {_MAX_TAGS} tags")
    for tag in tags:
        if len(tag) > _MAX_TAG or _CONTROL_RE.search(tag):
            raise FieldError("tags", f"tag {tag[:40]!r} is too long or has control characters")
    return tags


# --- upload fields and the metadata record ----------------------------------------------


@dataclass(frozen=True)
class UploadFields:
    """An upload's form fields as a client gives them (strings, unchecked)."""

    artifact_type: str
    project: str
    file_name: str | None = None
    baseline: str | int | None = None
    patch: str | int | None = None
    label: str | None = None
    description: str | None = None
    tags: str | Sequence[str] | None = None
    source: str | None = None
    created_by: str | None = None

    def form(self) -> dict[str, str]:
        """The multipart form fields (camelCase), without the file."""
        raw: dict[str, str | int | Sequence[str] | None] = {
            "artifactType": self.artifact_type,
            "project": self.project,
            "baseline": self.baseline,
            "patch": self.patch,
            "label": self.label,
            "description": self.description,
            "tags": self.tags,
            "source": self.source,
            "createdBy": self.created_by,
        }
        out: dict[str, str] = {}
        for name, value in raw.items():
            if value is None:
                continue
            if isinstance(value, str | int):
                out[name] = str(value)
            else:
                out[name] = ",".join(value)
        return out


@dataclass(frozen=True)
class ValidUpload:
    artifact_type: ArtifactType
    project: str
    file_name: str
    baseline: int | None
    patch: int | None
    label: str | None
    description: str | None
    tags: tuple[str, ...]
    source: str | None
    created_by: str | None


def validate_upload(fields: UploadFields) -> ValidUpload:
    """Every field rule of the contract that does not need the file's bytes."""
    artifact_type = validate_artifact_type(fields.artifact_type)
    required = artifact_type is ArtifactType.DELIVERY_PATCH
    return ValidUpload(
        artifact_type=artifact_type,
        project=validate_project(fields.project),
        file_name=sanitize_file_name(fields.file_name),
        baseline=parse_number("baseline", fields.baseline, required=required),
        patch=parse_number("patch", fields.patch, required=required),
        label=_text("label", fields.label),
        description=_text("description", fields.description),
        tags=parse_tags(fields.tags),
        source=_text("source", fields.source),
        created_by=_text("createdBy", fields.created_by),
    )


@dataclass(frozen=True)
class ArtifactRecord:
    """One stored artifact's metadata."""

    artifact_id: str
    artifact_type: ArtifactType
    project: str
    file_name: str
    size: int
    sha256: str
    baseline: int | None
    patch: int | None
    label: str | None
    description: str | None
    tags: tuple[str, ...]
    source: str | None
    created_by: str | None
    created_utc: str
    storage_path: str = field(default="", compare=False)

    @property
    def download_path(self) -> str:
        return f"{API_PREFIX}/artifacts/{self.artifact_id}/download"

    def created(self) -> datetime:
        moment = parse_utc("createdUtc", self.created_utc)
        assert moment is not None
        return moment

    def older_than(self, hours: float, now: datetime | None = None) -> bool:
        return self.created() < (now or utc_now()) - timedelta(hours=hours)

    def to_json(self, base_url: str = "") -> dict[str, Any]:
        return {
            "artifactId": self.artifact_id,
            "artifactType": self.artifact_type.value,
            "project": self.project,
            "fileName": self.file_name,
            "size": self.size,
            "sha256": self.sha256,
            "baseline": format_number(self.baseline),
            "patch": format_number(self.patch),
            "label": self.label,
            "description": self.description,
            "tags": list(self.tags),
            "source": self.source,
            "createdBy": self.created_by,
            "createdUtc": self.created_utc,
            "downloadUrl": base_url.rstrip("/") + self.download_path,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactRecord:
        try:
            return cls(
                artifact_id=str(data["artifactId"]),
                artifact_type=ArtifactType(data["artifactType"]),
                project=str(data["project"]),
                file_name=str(data["fileName"]),
                size=int(data["size"]),
                sha256=str(data["sha256"]),
                baseline=parse_number("baseline", data.get("baseline")),
                patch=parse_number("patch", data.get("patch")),
                label=data.get("label"),
                description=data.get("description"),
                tags=tuple(data.get("tags") or ()),
                source=data.get("source"),
                created_by=data.get("createdBy"),
                created_utc=str(data["createdUtc"]),
            )
        except (KeyError, TypeError, ValueError, FieldError) as exc:
            raise DropBoxError(f"the server answered a malformed artifact record: {exc}") from exc
