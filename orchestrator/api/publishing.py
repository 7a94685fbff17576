"""``orch publish``: deliver what waits in the outbox and record it in the trace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from orchestrator import artifacts
from orchestrator.api.publication import destination
from orchestrator.api.recording import trace_reader, trace_writer
from orchestrator.api.workspace import locate
from orchestrator.errors import PublishError
from orchestrator.record import PublicationResult, timestamp
from orchestrator.trace import encode_record


@dataclass(frozen=True)
class Delivery:
    workflow_id: str
    run_id: str
    package: str
    publication: PublicationResult | None
    error: str | None = None


def publish_pending(where: Path) -> list[Delivery]:
    """Try every package in the outbox once; each delivered one is committed to the trace."""
    place = locate(where)
    settings = place.settings
    outbox = artifacts.Outbox(settings.state_dir / "outbox")
    target = destination(settings)
    deliveries: list[Delivery] = []
    for entry in outbox.entries():
        name = entry.package.name.split("-", 1)[1]
        try:
            publication = artifacts.publish(
                entry.package, artifacts.upload_fields(entry.fields), target
            )
        except PublishError as exc:
            deliveries.append(Delivery(entry.workflow_id, entry.run_id, name, None, str(exc)))
            continue
        if publication.state == "published":
            _record_delivery(place_where=where, entry=entry, name=name, publication=publication)
            outbox.remove(entry)
        deliveries.append(Delivery(entry.workflow_id, entry.run_id, name, publication))
    return deliveries


def _record_delivery(
    *, place_where: Path, entry: artifacts.OutboxEntry, name: str, publication: PublicationResult
) -> None:
    place = locate(place_where)
    reader = trace_reader(place)
    files = {path: reader.read_file(entry.run_id, path) for path in reader.list_files(entry.run_id)}
    record = json.loads(files["run.json"])
    for artifact in record.get("artifacts") or []:
        if artifact.get("file_name") == name:
            artifact["publication"] = {
                "state": publication.state,
                "artifact_id": publication.artifact_id,
                "url": publication.url,
                "storage_path": publication.storage_path,
                "error": None,
                "attempted_at": timestamp(publication.attempted_at)
                if publication.attempted_at
                else None,
            }
    files["run.json"] = encode_record(record)
    note = f"\n\n> Published later by `orch publish`: `{name}` → {publication.artifact_id}\n"
    if "report.md" in files:
        files["report.md"] = files["report.md"].rstrip(b"\n") + note.encode()
    trace_writer(place).commit_run(
        entry.workflow_id,
        entry.run_id,
        files,
        state=str(record.get("state", "completed")),
        message_title=f"published {name} as {publication.artifact_id}",
        trailers={"Orch-Published": f"{name} {publication.artifact_id}"},
    )
