"""Publishing packages to DropBoxMini (over HTTP, or into the embedded local store), with an
outbox for what could not be delivered: nothing is lost when the service is unreachable.

A package is published only while its bytes are the ones the run recorded (sha256 and size):
one that changed while it waited in the outbox is refused and kept, and so is one the service
reports storing with another digest.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.dropboxmini import (
    DropBoxClient,
    DropBoxError,
    LocalStoreClient,
    StoreFullError,
    UnavailableError,
    UploadFields,
    connect,
)
from orchestrator.dropboxmini.protocol import ArtifactRecord as StoredArtifact
from orchestrator.errors import PublishError
from orchestrator.record import PublicationResult, utc_now


@dataclass(frozen=True)
class Destination:
    """Where packages go: a DropBoxMini URL and key, or the local store folder."""

    url: str | None
    key: str | None
    local_store: Path
    baseline: int | None = None

    def describe(self) -> str:
        return self.url or f"the local store {self.local_store}"


_CHUNK = 1 << 20
REFUSED = "refused"


@dataclass(frozen=True)
class Digest:
    """A package's sha256 and size."""

    sha256: str
    size: int

    @classmethod
    def of(cls, path: Path) -> Digest:
        digest, size = hashlib.sha256(), 0
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return cls(digest.hexdigest(), size)

    def describe(self) -> str:
        return f"sha256 {self.sha256} ({self.size} bytes)"


@dataclass(frozen=True)
class OutboxEntry:
    """A package waiting for delivery, with everything needed to send it later."""

    workflow_id: str
    run_id: str
    index: int
    package: Path
    fields: dict[str, Any]
    digest: Digest | None = None

    @property
    def package_id(self) -> str:
        """orch's id of the package, as its manifest gives it."""
        return f"orch-{self.run_id}-{self.index + 1:02d}"


@contextlib.contextmanager
def _local_disk_errors(destination: Destination) -> Iterator[None]:
    try:
        yield
    except StoreFullError as exc:
        if destination.url:
            raise  # a remote server's disk: the package waits in the outbox like any 5xx
        raise OSError(
            errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination.local_store)
        ) from exc


def _client(destination: Destination) -> DropBoxClient | LocalStoreClient:
    if destination.url:
        return connect(destination.url, destination.key, destination.local_store)
    return LocalStoreClient(destination.local_store, baseline=destination.baseline)


def _location(destination: Destination, stored: StoredArtifact) -> tuple[str, str]:
    """(URL, storage path) of a stored artifact."""
    if destination.url:
        return f"{destination.url.rstrip('/')}{stored.download_path}", stored.storage_path
    return Path(stored.storage_path).as_uri(), stored.storage_path


def publish(
    package: Path, fields: UploadFields, destination: Destination, expected: Digest | None = None
) -> PublicationResult:
    """Upload one package. Unreachable (or a damaged store) → ``pending``; refused (4xx) →
    ``PublishError``; stored with another digest than ``expected`` → ``refused``. The local
    store's full disk is this host's full disk: ``OSError`` (ENOSPC), as any other write."""
    try:
        with _local_disk_errors(destination):
            client = _client(destination)
    except UnavailableError as exc:  # a damaged local store: the package waits until repaired
        return PublicationResult(state="pending", error=exc.detail, attempted_at=utc_now())
    except DropBoxError as exc:
        raise PublishError(f"cannot publish to {destination.describe()}: {exc.detail}") from None
    try:
        with _local_disk_errors(destination), client:
            stored = client.upload(package, fields)
    except UnavailableError as exc:  # a damaged store too: the package waits until repaired
        return PublicationResult(state="pending", error=exc.detail, attempted_at=utc_now())
    except DropBoxError as exc:
        raise PublishError(
            f"{destination.describe()} refused {package.name} ({exc.status} {exc.code}): "
            f"{exc.detail}"
        ) from None
    url, storage = _location(destination, stored)
    held = Digest(stored.sha256, stored.size)
    if expected is not None and held != expected:
        return PublicationResult(
            state=REFUSED,
            artifact_id=stored.artifact_id,
            url=url,
            storage_path=storage,
            error=(
                f"the bytes changed while they were uploaded: {destination.describe()} stored "
                f"them as {stored.artifact_id} with {held.describe()}, but the run recorded "
                f"{expected.describe()}; {stored.artifact_id} is not this run's evidence"
            ),
            attempted_at=utc_now(),
        )
    return PublicationResult(
        state="published",
        artifact_id=stored.artifact_id,
        url=url,
        storage_path=storage,
        attempted_at=utc_now(),
    )


def publish_waiting(
    entry: OutboxEntry, recorded: Digest | None, destination: Destination
) -> PublicationResult:
    """Publish an outbox package if its bytes are still the ones the run recorded.

    A package that changed (or whose digest is recorded nowhere) is ``refused`` without being
    sent, naming both digests; it stays in the outbox.
    """
    expected = recorded or entry.digest
    try:
        actual: Digest | None = Digest.of(entry.package)
    except FileNotFoundError:
        actual = None
    kept = f"It stays in {entry.package} for inspection"
    problem = None
    if actual is None:
        recorded_text = "" if expected is None else f"; the run recorded {expected.describe()}"
        problem = f"the package is missing from the outbox ({entry.package}){recorded_text}"
    elif expected is None:
        problem = f"no digest of it is recorded, so its bytes cannot be checked. {kept}"
    elif actual != expected:
        problem = (
            f"the bytes changed after the run recorded them: the run recorded "
            f"{expected.describe()}, the outbox holds {actual.describe()}. {kept}"
        )
    if problem is not None:
        return PublicationResult(
            state=REFUSED, error=f"not published: {problem}", attempted_at=utc_now()
        )
    return publish(entry.package, upload_fields(entry.fields), destination, expected)


def upload_fields(fields: dict[str, Any]) -> UploadFields:
    return UploadFields(**fields)


def fields_dict(fields: UploadFields) -> dict[str, Any]:
    data = asdict(fields)
    if isinstance(data.get("tags"), tuple):
        data["tags"] = list(data["tags"])
    return data


class Outbox:
    """``<state dir>/outbox/<workflow>/<run>/<index>-<package>`` plus a ``.json`` beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, entry: OutboxEntry) -> Path:
        target = self.folder / entry.workflow_id / entry.run_id
        target.mkdir(parents=True, exist_ok=True)
        stored = target / f"{entry.index:02d}-{entry.package.name}"
        shutil.copyfile(entry.package, stored)
        meta: dict[str, Any] = {
            "workflow_id": entry.workflow_id,
            "run_id": entry.run_id,
            "index": entry.index,
            "fields": entry.fields,
        }
        if entry.digest is not None:
            meta["sha256"], meta["size"] = entry.digest.sha256, entry.digest.size
        stored.with_name(stored.name + ".json").write_text(json.dumps(meta, indent=2))
        return stored

    def entries(self) -> Iterator[OutboxEntry]:
        for meta_path in sorted(self.folder.glob("*/*/*.json")):
            meta = json.loads(meta_path.read_text())
            recorded = meta.get("sha256"), meta.get("size")
            yield OutboxEntry(
                workflow_id=meta["workflow_id"],
                run_id=meta["run_id"],
                index=int(meta["index"]),
                package=meta_path.with_name(meta_path.name.removesuffix(".json")),
                fields=meta["fields"],
                digest=Digest(str(recorded[0]), int(recorded[1]))
                if isinstance(recorded[0], str) and isinstance(recorded[1], int)
                else None,
            )

    def remove(self, entry: OutboxEntry) -> None:
        entry.package.unlink(missing_ok=True)
        entry.package.with_name(entry.package.name + ".json").unlink(missing_ok=True)
        for folder in (entry.package.parent, entry.package.parent.parent):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
