"""Generate and publish artifacts: deterministic packages, DropBoxMini, and the outbox."""

from orchestrator.artifacts.publish import Destination, Outbox, OutboxEntry, publish, upload_fields
from orchestrator.artifacts.stage import Provenance, Stage, produce

__all__ = [
    "Destination",
    "Outbox",
    "OutboxEntry",
    "Provenance",
    "Stage",
    "produce",
    "publish",
    "upload_fields",
]
