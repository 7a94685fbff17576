"""``orch publish``: deliver what waits in the outbox and record it in the trace.

A package is sent only while its bytes are the ones its run recorded in the trace (sha256 and
size); one that changed is refused, kept in the outbox, and the refusal is recorded on the
run's artifact, naming both digests.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import artifacts
from orchestrator.api.recording_runs import trace_reader, trace_writer
from orchestrator.api.run_artifacts import destination
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.errors import PublishError, TraceError
from orchestrator.record import PublicationResult, timestamp
from orchestrator.trace import encode_record

log = logging.getLogger("orch")


@dataclass(frozen=True)
class Delivery:
    workflow_id: str
    run_id: str
    package: str
    publication: PublicationResult | None
    error: str | None = None

    @property
    def refused(self) -> bool:
        return self.publication is not None and self.publication.state == artifacts.REFUSED


def publish_pending(where: Path) -> list[Delivery]:
    """Try every package in the outbox once; each delivered or refused one is committed to
    the trace (a refusal once: trying again records nothing new)."""
    place = locate(where)
    settings = place.settings
    outbox = artifacts.Outbox(settings.state_dir / "outbox")
    target = destination(settings)
    deliveries: list[Delivery] = []
    for entry in outbox.entries():
        name = entry.package.name.split("-", 1)[1]
        record = _run_record(place, entry)
        artifact = None if record is None else _artifact_of(record, entry, name)
        try:
            publication = artifacts.publish_waiting(entry, _recorded_digest(artifact), target)
        except PublishError as exc:
            deliveries.append(Delivery(entry.workflow_id, entry.run_id, name, None, str(exc)))
            continue
        if publication.state == "published":
            _record_publication(place, entry, name, publication, record)
            outbox.remove(entry)
        elif publication.state == artifacts.REFUSED and not _already_recorded(
            artifact, publication
        ):
            _record_publication(place, entry, name, publication, record)
        deliveries.append(Delivery(entry.workflow_id, entry.run_id, name, publication))
    return deliveries


def _run_record(place: DocumentHome, entry: artifacts.OutboxEntry) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads(trace_reader(place).read_file(entry.run_id, "run.json"))
    except TraceError:
        return None
    return record


def _artifact_of(
    record: dict[str, Any], entry: artifacts.OutboxEntry, name: str
) -> dict[str, Any] | None:
    """The run's record of the package: by orch's package id, else by file name."""
    listed = [a for a in record.get("artifacts") or [] if isinstance(a, dict)]
    for artifact in listed:
        manifest = artifact.get("manifest")
        if isinstance(manifest, dict) and manifest.get("artifact_id") == entry.package_id:
            return artifact
    return next((a for a in listed if a.get("file_name") == name), None)


def _recorded_digest(artifact: dict[str, Any] | None) -> artifacts.Digest | None:
    if artifact is None:
        return None
    sha256, size = artifact.get("sha256"), artifact.get("size")
    if isinstance(sha256, str) and isinstance(size, int) and not isinstance(size, bool):
        return artifacts.Digest(sha256, size)
    return None


def _already_recorded(artifact: dict[str, Any] | None, publication: PublicationResult) -> bool:
    recorded = (artifact or {}).get("publication") or {}
    return bool(
        recorded.get("state") == publication.state and recorded.get("error") == publication.error
    )


def _publication_json(publication: PublicationResult) -> dict[str, Any]:
    return {
        "state": publication.state,
        "artifact_id": publication.artifact_id,
        "url": publication.url,
        "storage_path": publication.storage_path,
        "error": publication.error,
        "attempted_at": timestamp(publication.attempted_at) if publication.attempted_at else None,
    }


def _record_publication(
    place: DocumentHome,
    entry: artifacts.OutboxEntry,
    name: str,
    publication: PublicationResult,
    record: dict[str, Any] | None,
) -> None:
    if record is None:
        log.warning(
            "run %s/%s is not in the trace: %s %s is not recorded there",
            entry.workflow_id,
            entry.run_id,
            name,
            publication.state,
        )
        return
    reader = trace_reader(place)
    files = {path: reader.read_file(entry.run_id, path) for path in reader.list_files(entry.run_id)}
    artifact = _artifact_of(record, entry, name)
    if artifact is not None:
        artifact["publication"] = _publication_json(publication)
    files["run.json"] = encode_record(record)
    if publication.state == "published":
        note = f"\n\n> Published later by `orch publish`: `{name}` → {publication.artifact_id}\n"
        title = f"published {name} as {publication.artifact_id}"
        trailers = {"Orch-Published": f"{name} {publication.artifact_id}"}
    else:
        note = f"\n\n> `orch publish` refused `{name}`: {publication.error}\n"
        title = f"refused to publish {name}: its bytes are not the recorded ones"
        trailers = {"Orch-Publish-Refused": name}
    if "report.md" in files:
        files["report.md"] = files["report.md"].rstrip(b"\n") + note.encode()
    trace_writer(place).commit_run(
        entry.workflow_id,
        entry.run_id,
        files,
        state=str(record.get("state", "completed")),
        message_title=title,
        trailers=trailers,
    )
