"""The generate-artifacts and publish-artifacts stages of a run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import templating
from orchestrator.artifacts import package as packaging
from orchestrator.artifacts.collect import collect
from orchestrator.artifacts.publish import (
    REFUSED,
    Destination,
    Digest,
    Outbox,
    OutboxEntry,
    fields_dict,
    publish,
)
from orchestrator.dropboxmini import UploadFields
from orchestrator.errors import PublishError, TemplateError
from orchestrator.model import ArtifactSpec, ArtifactWhen
from orchestrator.record import ArtifactRecord, timestamp, utc_now

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Provenance:
    """Where a package came from: recorded in its manifest."""

    workflow_id: str
    run_id: str
    document_path: str
    document_revision: str | None
    document_blob: str
    inputs_digest: str
    actor: str
    system: str
    producer: str


@dataclass(frozen=True)
class Stage:
    """Everything the artifact stages need from the run."""

    specs: Sequence[ArtifactSpec]
    document_path: str
    workdir: Path
    packages: Path
    context: Mapping[str, Any]
    provenance: Provenance
    destination: Destination
    outbox: Outbox


def wanted(spec: ArtifactSpec, succeeded: bool) -> bool:
    if spec.when is ArtifactWhen.ALWAYS:
        return True
    return (spec.when is ArtifactWhen.SUCCESS) == succeeded


def produce(stage: Stage, succeeded: bool) -> tuple[list[ArtifactRecord], str | None]:
    """Package and publish each wanted artifact; stops at the first one that fails.

    Returns the records made and, when one failed, why (a sentence).
    """
    records: list[ArtifactRecord] = []
    for index, spec in enumerate(stage.specs):
        if not wanted(spec, succeeded):
            continue
        try:
            records.append(_produce_one(stage, index, spec))
        except (PublishError, TemplateError) as exc:
            return records, str(exc)
    return records, None


def _render(stage: Stage, spec: ArtifactSpec, field: str, value: str | None) -> str | None:
    if value is None:
        return None
    where = templating.Where(stage.document_path, spec.line, f"artifact {spec.name!r} {field}")
    return templating.render(value, stage.context, where).strip()


def _produce_one(stage: Stage, index: int, spec: ArtifactSpec) -> ArtifactRecord:
    name = _render(stage, spec, "name", spec.name) or ""
    if not _PLAIN_NAME.match(name):
        raise PublishError(
            f"{stage.document_path}:{spec.line}: artifact name {name!r} must be a plain file "
            "name (letters, digits, '.', '_', '+', '-'; no folders)"
        )
    fields = UploadFields(
        artifact_type=spec.type,
        project=_render(stage, spec, "project", spec.project) or stage.provenance.system,
        file_name=name,
        baseline=_render(stage, spec, "baseline", spec.baseline),
        patch=_render(stage, spec, "patch", spec.patch),
        label=_render(stage, spec, "label", spec.label),
        description=_render(stage, spec, "description", spec.description),
        tags=_render(stage, spec, "tags", spec.tags),
        source=f"orch:{stage.provenance.workflow_id}/{stage.provenance.run_id}",
        created_by=stage.provenance.actor,
    )
    files = collect(stage.workdir, spec.files, name)
    listed, payload_sha256 = packaging.describe_payload(files)
    manifest = _manifest(stage, index, spec, fields, listed, payload_sha256)
    destination = stage.packages / name
    if spec.format == "file":
        packaged = packaging.single_file(destination, files, manifest, name)
    else:
        packaged = packaging.build_zip(destination, files, manifest)
    digest = Digest(packaged.sha256, packaged.size)
    publication = publish(packaged.path, fields, stage.destination, digest)
    if publication.state == REFUSED:
        raise PublishError(
            f"{stage.document_path}:{spec.line}: artifact {name!r} {publication.error}"
        )
    if publication.state == "pending":
        stage.outbox.put(
            OutboxEntry(
                workflow_id=stage.provenance.workflow_id,
                run_id=stage.provenance.run_id,
                index=index,
                package=packaged.path,
                fields=fields_dict(fields),
                digest=digest,
            )
        )
    return ArtifactRecord(
        name=name,
        type=spec.type,
        project=fields.project,
        file_name=name,
        size=packaged.size,
        sha256=packaged.sha256,
        payload_sha256=packaged.payload_sha256,
        manifest=packaged.manifest,
        publication=publication,
    )


def _manifest(
    stage: Stage,
    index: int,
    spec: ArtifactSpec,
    fields: UploadFields,
    listed: list[dict[str, Any]],
    payload_sha256: str,
) -> dict[str, Any]:
    provenance = stage.provenance
    version = fields.label or provenance.run_id
    if fields.patch is not None and fields.baseline is not None:
        version = f"{int(str(fields.baseline)):04d}.{int(str(fields.patch)):04d}"
    return {
        "artifact_id": f"orch-{provenance.run_id}-{index + 1:02d}",
        "system": provenance.system,
        "type": spec.type,
        "version": version,
        "producer": provenance.producer,
        "created_utc": timestamp(utc_now()).replace(".000Z", "Z"),
        "description": fields.description or "",
        "files": listed,
        "payload_sha256": payload_sha256,
        "baseline": fields.baseline,
        "patch": fields.patch,
        "provenance": {
            "workflow_id": provenance.workflow_id,
            "run_id": provenance.run_id,
            "document": provenance.document_path,
            "document_revision": provenance.document_revision,
            "document_blob": provenance.document_blob,
            "inputs_digest": provenance.inputs_digest,
        },
    }
