"""What somebody asked to run (``RunRequest``), and the same request once it passed
validation (``Prepared``): the two values every way of running a document passes on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.api.workspace import DocumentHome
from orchestrator.api.worktrees import TemporaryWorktree
from orchestrator.masking import Masker
from orchestrator.model import Document, Trigger
from orchestrator.record import Resumption, StepRecord


@dataclass(frozen=True)
class RunRequest:
    """What somebody asked to run, and how."""

    path: Path
    cli_inputs: tuple[str, ...] = ()
    inputs_file: Path | None = None
    supplied_inputs: Mapping[str, Any] | None = None
    trigger: Trigger = Trigger.MANUAL
    actor: str | None = None
    allow_draft: bool = False
    confirmed: frozenset[str] = frozenset()
    workdir: Path | None = None
    cron_time: str | None = None
    run_id: str | None = None
    environ: Mapping[str, str] | None = None
    queued_at: datetime | None = None
    # Validated to be sent to a broker: secrets are the worker's, not checked here.
    for_broker: bool = False
    # Where a broker run ran (labels, worker, sequence, fencing token): see distributed.md.
    placement: Mapping[str, Any] | None = None
    # Whether a person can be asked at a manual step (orch apply at a terminal). A run by
    # hand that cannot ask is refused before anything runs when a manual step is not
    # confirmed in advance.
    interactive: bool = True
    # Whether a manual step nobody confirmed in advance makes the run wait for a person
    # (orch confirm / orch cancel); None: unattended triggers wait, runs by hand do not.
    waits_for_people: bool | None = None
    rerun_of: str | None = None
    resumes: Resumption | None = None
    # The records a resumed run takes over instead of running those steps, and their logs.
    taken_over: Mapping[str, StepRecord] = field(default_factory=dict)
    taken_over_logs: Mapping[str, bytes] = field(default_factory=dict)
    # The temporary worktree the run runs in, removed before the run's end is recorded.
    worktree: TemporaryWorktree | None = None

    @property
    def waits(self) -> bool:
        if self.waits_for_people is not None:
            return self.waits_for_people
        return self.trigger is not Trigger.MANUAL


@dataclass(frozen=True)
class Prepared:
    """A request that passed validation: nothing has run yet."""

    request: RunRequest
    place: DocumentHome
    document: Document
    relative_path: str
    inputs: Mapping[str, Any]
    masker: Masker
    environ: Mapping[str, str]
    workdir: Path
    secret_inputs: frozenset[str] = field(default_factory=frozenset)
    # Only when planning: secrets not set, and secret inputs not given (placeholders stand
    # in for their values).
    missing_secrets: tuple[str, ...] = ()
    missing_secret_inputs: tuple[str, ...] = ()
