"""Generate and publish artifacts: deterministic packages, DropBoxMini, and the outbox."""

from orchestrator.artifacts.publish import (
    REFUSED,
    Destination,
    Digest,
    Outbox,
    OutboxEntry,
    publish,
    publish_waiting,
    upload_fields,
)
from orchestrator.artifacts.stage import Provenance, Stage, produce

__all__ = [
    "REFUSED",
    "Destination",
    "Digest",
    "Outbox",
    "OutboxEntry",
    "Provenance",
    "Stage",
    "produce",
    "publish",
    "publish_waiting",
    "upload_fields",
]
