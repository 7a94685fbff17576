"""DropBoxMini: the artifact service's contract, store, HTTP server and clients.

This package imports nothing from the rest of ``orchestrator``.
"""

from orchestrator.dropboxmini.client import DropBoxClient, LocalStoreClient, connect
from orchestrator.dropboxmini.keys import ApiKey, KeyRing, load_keys
from orchestrator.dropboxmini.protocol import (
    ArtifactRecord,
    ArtifactType,
    ConfigError,
    ConflictError,
    DropBoxError,
    FieldError,
    ForbiddenError,
    IntegrityError,
    MethodNotAllowedError,
    NotFoundError,
    Role,
    StoreDamagedError,
    StoreFullError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
    UploadFields,
    format_number,
    parse_number,
    sanitize_file_name,
)
from orchestrator.dropboxmini.store import PutResult, Store, StoreStatus

__all__ = [
    "ApiKey",
    "ArtifactRecord",
    "ArtifactType",
    "ConfigError",
    "ConflictError",
    "DropBoxClient",
    "DropBoxError",
    "FieldError",
    "ForbiddenError",
    "IntegrityError",
    "KeyRing",
    "LocalStoreClient",
    "MethodNotAllowedError",
    "NotFoundError",
    "PutResult",
    "Role",
    "Store",
    "StoreDamagedError",
    "StoreFullError",
    "StoreStatus",
    "TooLargeError",
    "UnauthorizedError",
    "UnavailableError",
    "UploadFields",
    "connect",
    "format_number",
    "load_keys",
    "parse_number",
    "sanitize_file_name",
]
