"""What a run's Celery message carries: enough to find and run the committed document.

Never a secret: secret inputs are refused before a run is sent, and the values of a
document's ``secrets:`` come from the worker's own environment. The message is plain JSON
(Celery's ``json`` serializer), so ``celery inspect`` and Flower show it as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from orchestrator import __version__
from orchestrator.errors import OrchError

FORMAT = 1


class BadMessage(OrchError):
    """A broker message orch cannot read (another format, a missing field)."""


@dataclass(frozen=True)
class RunMessage:
    run_id: str
    workflow: str
    repo: str
    commit: str
    path: str
    blob: str
    trigger: str
    actor: str
    queued_at: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    cron_time: str | None = None
    labels: tuple[str, ...] = ()
    trace_branch: str = "orch-trace"
    trace_prefix: str = ""
    sequence: int = 0
    orch_version: str = __version__

    @property
    def workflow_key(self) -> str:
        """One workflow of one repository (and trace prefix): the unit of order and lock."""
        where = f"{normal_url(self.repo)}\0{self.trace_prefix}".encode()
        return f"{hashlib.sha1(where, usedforsecurity=False).hexdigest()[:12]}:{self.workflow}"

    def numbered(self, sequence: int) -> RunMessage:
        return replace(self, sequence=sequence)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["inputs"] = dict(self.inputs)
        return {"format": FORMAT, **data}

    @classmethod
    def from_json(cls, data: Any) -> RunMessage:
        if not isinstance(data, Mapping):
            raise BadMessage(f"a run message must be a JSON object, not {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise BadMessage(
                f"run message format {data.get('format')!r} is not {FORMAT}: it was sent by "
                f"orch {data.get('orch_version', '?')}; this worker runs orch {__version__}"
            )
        names = {f for f in cls.__dataclass_fields__}
        missing = sorted(
            name
            for name in ("run_id", "workflow", "repo", "commit", "path", "blob", "trigger")
            if not isinstance(data.get(name), str) or not data.get(name)
        )
        if missing:
            raise BadMessage(f"run message lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in names}
        values["labels"] = tuple(str(label) for label in values.get("labels") or ())
        values["inputs"] = dict(values.get("inputs") or {})
        values["sequence"] = int(values.get("sequence") or 0)
        return cls(**values)


def normal_url(url: str) -> str:
    """A repository URL as workers compare them: no trailing ``/`` or ``.git``."""
    text = url.strip().rstrip("/")
    return text[: -len(".git")] if text.endswith(".git") else text


def newer_than_this_worker(version: str) -> bool:
    """True when ``version`` (the sender's orch) is newer than this worker's orch."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) > Version(__version__)
    except InvalidVersion:
        return False
