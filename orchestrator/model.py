"""What orch works on: documents, steps, runs and their states.

Frozen dataclasses and enums only. Everything that came from a document carries its source
line, so every error can say ``file:line``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import Diagnostic


class DocumentStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class Publication(enum.StrEnum):
    UNPUBLISHED = "unpublished"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class StepKind(enum.StrEnum):
    SCRIPT = "script"
    FILE = "file"
    HEALTH = "health"
    MANUAL = "manual"


class RunState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    # A manual step of an unattended run waits for a person (orch confirm / orch cancel).
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Trigger(enum.StrEnum):
    MANUAL = "manual"
    HOOK = "hook"
    SCHEDULE = "schedule"
    API = "api"


class ArtifactWhen(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ALWAYS = "always"


@dataclass(frozen=True)
class InputDecl:
    """One declared input. ``schema`` holds the JSON Schema keywords (``type`` included)."""

    name: str
    schema: Mapping[str, Any]
    line: int
    required: bool = False
    default: Any = None
    has_default: bool = False
    secret: bool = False
    description: str = ""

    @property
    def restricted(self) -> bool:
        """True when the declaration limits the value enough to paste it into a script."""
        return (
            "enum" in self.schema
            or "pattern" in self.schema
            or self.schema.get("type") in ("integer", "number", "boolean")
        )


@dataclass(frozen=True)
class Defaults:
    """Settings every step takes unless it sets its own: the shell and the timeout."""

    shell: str = "bash"
    timeout_seconds: float = 3600.0
    cwd: str | None = None
    retries: int = 0


@dataclass(frozen=True)
class Triggers:
    """The ``on:`` block: what runs the document by itself."""

    line: int
    paths: tuple[str, ...] = ()
    schedule: tuple[str, ...] = ()
    timezone: str = "UTC"
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactSpec:
    """One entry of ``artifacts``; string fields are still templates."""

    line: int
    name: str
    type: str
    files: tuple[str, ...]
    project: str | None = None
    baseline: str | None = None
    patch: str | None = None
    label: str | None = None
    description: str | None = None
    tags: str | None = None
    format: str = "zip"
    when: ArtifactWhen = ArtifactWhen.SUCCESS


@dataclass(frozen=True)
class Step:
    """One fenced block with a ``step=`` attribute.

    ``line`` is the line of the opening fence; ``body_line`` the first line of the body, so a
    template error on body line N is reported at ``body_line + N - 1``.
    """

    name: str
    kind: StepKind
    language: str
    body: str
    section: str
    line: int
    body_line: int
    attrs: Mapping[str, str] = field(default_factory=dict)
    condition: str | None = None
    timeout_seconds: float = 3600.0
    retries: int = 0
    retry_delay_seconds: float = 0.0
    continue_on_error: bool = False
    cwd: str | None = None
    file: str | None = None
    mode: int | None = None
    interpreter: str | None = None
    render: bool = True
    # For script steps: the program and its leading arguments; the body goes in a file
    # whose path is appended.
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A parsed, structurally valid intent document."""

    path: Path
    text: str
    id: str
    title: str
    steps: tuple[Step, ...]
    owner: str | None = None
    status: DocumentStatus = DocumentStatus.DRAFT
    publication: Publication = Publication.UNPUBLISHED
    system: str | None = None
    description: str | None = None
    inputs: tuple[InputDecl, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    triggers: Triggers | None = None
    artifacts: tuple[ArtifactSpec, ...] = ()
    # Worker labels a run needs (``runs_on``); used only when runs go through a broker.
    runs_on: tuple[str, ...] = ()
    # Line of each top-level front-matter key, for errors found after parsing.
    key_lines: Mapping[str, int] = field(default_factory=dict)
    # What ``orch validate`` warns about: things that may fail at run time.
    warnings: tuple[Diagnostic, ...] = ()

    def input(self, name: str) -> InputDecl | None:
        return next((decl for decl in self.inputs if decl.name == name), None)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, 1)
