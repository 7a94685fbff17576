"""The artifacts stage of a run, as it ends: generate its packages and publish them (what
cannot be published waits in the outbox, which ``outbox_delivery`` delivers later)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from orchestrator import __version__, artifacts
from orchestrator.api.run_request import Prepared
from orchestrator.config import Settings
from orchestrator.record import RunRecord


def generate_and_publish(
    prepared: Prepared, record: RunRecord, template_context: Mapping[str, Any]
) -> tuple[RunRecord, str | None]:
    """Package and publish the document's artifacts; the record with them, and any problem."""
    produced, problem = artifacts.produce(
        _stage(prepared, template_context, record), succeeded=record.error is None
    )
    return dataclasses.replace(record, artifacts=tuple(produced)), problem


def _stage(
    prepared: Prepared, template_context: Mapping[str, Any], record: RunRecord
) -> artifacts.Stage:
    doc, settings = prepared.document, prepared.place.settings
    return artifacts.Stage(
        specs=doc.artifacts,
        document_path=str(doc.path),
        workdir=prepared.workdir,
        packages=settings.state_dir / "packages" / record.run_id,
        context=template_context,
        provenance=artifacts.Provenance(
            workflow_id=doc.id,
            run_id=record.run_id,
            document_path=record.document.path,
            document_revision=record.document.commit,
            document_blob=record.document.blob,
            inputs_digest=record.inputs_digest,
            actor=record.trigger.actor,
            system=doc.system or doc.id,
            producer=f"orch {__version__}",
        ),
        destination=destination(settings),
        outbox=artifacts.Outbox(settings.state_dir / "outbox"),
    )


def destination(settings: Settings) -> artifacts.Destination:
    return artifacts.Destination(
        url=settings.dropbox_url,
        key=settings.dropbox_key,
        local_store=settings.local_store,
        baseline=settings.dropbox_baseline,
    )
