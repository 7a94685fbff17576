"""Publishing packages to DropBoxMini (over HTTP, or into the embedded local store), with an
outbox for what could not be delivered: nothing is lost when the service is unreachable."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.dropboxmini import (
    DropBoxClient,
    DropBoxError,
    LocalStoreClient,
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


@dataclass(frozen=True)
class OutboxEntry:
    """A package waiting for delivery, with everything needed to send it later."""

    workflow_id: str
    run_id: str
    index: int
    package: Path
    fields: dict[str, Any]


def _client(destination: Destination) -> DropBoxClient | LocalStoreClient:
    if destination.url:
        return connect(destination.url, destination.key, destination.local_store)
    return LocalStoreClient(destination.local_store, baseline=destination.baseline)


def _location(destination: Destination, stored: StoredArtifact) -> tuple[str, str]:
    """(URL, storage path) of a stored artifact."""
    if destination.url:
        return f"{destination.url.rstrip('/')}{stored.download_path}", stored.storage_path
    return Path(stored.storage_path).as_uri(), stored.storage_path


def publish(package: Path, fields: UploadFields, destination: Destination) -> PublicationResult:
    """Upload one package. Unreachable → ``pending``; refused (4xx) → ``PublishError``."""
    try:
        client = _client(destination)
    except DropBoxError as exc:
        raise PublishError(f"cannot publish to {destination.describe()}: {exc.detail}") from None
    try:
        with client:
            stored = client.upload(package, fields)
    except UnavailableError as exc:
        return PublicationResult(state="pending", error=str(exc.detail), attempted_at=utc_now())
    except DropBoxError as exc:
        raise PublishError(
            f"{destination.describe()} refused {package.name} ({exc.status} {exc.code}): "
            f"{exc.detail}"
        ) from None
    url, storage = _location(destination, stored)
    return PublicationResult(
        state="published",
        artifact_id=stored.artifact_id,
        url=url,
        storage_path=storage,
        attempted_at=utc_now(),
    )


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
        meta = {
            "workflow_id": entry.workflow_id,
            "run_id": entry.run_id,
            "index": entry.index,
            "fields": entry.fields,
        }
        stored.with_name(stored.name + ".json").write_text(json.dumps(meta, indent=2))
        return stored

    def entries(self) -> Iterator[OutboxEntry]:
        for meta_path in sorted(self.folder.glob("*/*/*.json")):
            meta = json.loads(meta_path.read_text())
            yield OutboxEntry(
                workflow_id=meta["workflow_id"],
                run_id=meta["run_id"],
                index=int(meta["index"]),
                package=meta_path.with_name(meta_path.name.removesuffix(".json")),
                fields=meta["fields"],
            )

    def remove(self, entry: OutboxEntry) -> None:
        entry.package.unlink(missing_ok=True)
        entry.package.with_name(entry.package.name + ".json").unlink(missing_ok=True)
        for folder in (entry.package.parent, entry.package.parent.parent):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
