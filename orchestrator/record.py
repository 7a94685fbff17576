"""The run record: what a run did, in the shape of ``run.json`` (schema 1).

Frozen dataclasses; a run in progress is a sequence of records, each made from the last with
``dataclasses.replace``. ``to_json`` is the one place the record is turned into ``run.json``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.model import RunState, StepKind, StepState, Trigger

SCHEMA_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with ``Z`` and milliseconds: ``2026-11-25T22:15:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Transition:
    """A state a run or step entered, and when."""

    state: str
    at: datetime


@dataclass(frozen=True)
class FileWrite:
    """What a file step wrote."""

    path: str
    sha256: str
    changed: bool


@dataclass(frozen=True)
class Answer:
    """A person's answer to a run in progress: ``confirm`` a waiting step, or ``cancel``."""

    action: str
    by: str
    at: datetime
    step: str | None = None


@dataclass(frozen=True)
class StepRecord:
    """What happened to one step of a run: its states, attempts, outputs and log."""

    name: str
    kind: StepKind
    section: str
    line: int
    state: StepState = StepState.PENDING
    transitions: tuple[Transition, ...] = ()
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    log: str | None = None
    body_sha256: str | None = None
    rendered: str | None = None
    file: FileWrite | None = None
    error: str | None = None
    skipped_because: str | None = None
    confirmed_by: str | None = None
    continued_on_error: bool = False
    # Who answered a waiting manual step (or cancelled the run during this step), and when.
    answer: Answer | None = None
    # Digest of the step as written (kind, attributes, unrendered body): what a resumed run
    # compares to tell whether the step changed since the run it resumes.
    source_sha256: str | None = None
    # The run this step's record was copied from, when a resumed run took it over.
    taken_over_from: str | None = None

    def moved_to(self, state: StepState, at: datetime | None = None) -> StepRecord:
        moment = at or utc_now()
        return dataclasses.replace(
            self, state=state, transitions=(*self.transitions, Transition(state, moment))
        )


@dataclass(frozen=True)
class WorkflowInfo:
    """The workflow a run belongs to, as its document declared it when the run began."""

    id: str
    title: str
    owner: str | None
    status: str
    publication: str


@dataclass(frozen=True)
class DocumentInfo:
    """Which text ran: path in the repository, the commit it was read at, its blob id."""

    path: str
    commit: str | None
    blob: str
    dirty: bool


@dataclass(frozen=True)
class TriggerInfo:
    """What started a run: the trigger, who, on which host and process, with which orch."""

    source: Trigger
    actor: str
    host: str
    pid: int
    pid_started: str | None
    orch_version: str
    cron_time: str | None = None


@dataclass(frozen=True)
class Workspace:
    """Where the steps ran: the operator's working copy or a clean worktree of a commit."""

    kind: str
    commit: str | None
    dirty: bool


@dataclass(frozen=True)
class PublicationResult:
    """What became of an artifact's upload: published, or pending in the outbox."""

    state: str
    artifact_id: str | None = None
    url: str | None = None
    storage_path: str | None = None
    error: str | None = None
    attempted_at: datetime | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact a run made: its file, digests, manifest, and what became of its upload."""

    name: str
    type: str
    project: str
    file_name: str
    size: int
    sha256: str
    payload_sha256: str
    manifest: Mapping[str, Any]
    publication: PublicationResult


@dataclass(frozen=True)
class RunError:
    """Why a run failed: the step it failed in (None before any step) and the message."""

    step: str | None
    message: str


@dataclass(frozen=True)
class WaitingFor:
    """What a waiting run needs from a person: the manual step, its instruction, and until
    when it waits (the step's timeout)."""

    step: str
    instruction: str
    since: datetime
    until: datetime


@dataclass(frozen=True)
class Resumption:
    """The run a resumed run continues, and the steps whose records it took over."""

    run: str
    steps: tuple[str, ...]
    forced: bool = False


@dataclass(frozen=True)
class RunRecord:
    """Everything a run records: what ran, where, who started it, each step, artifacts and end."""

    run_id: str
    workflow: WorkflowInfo
    document: DocumentInfo
    trigger: TriggerInfo
    inputs: Mapping[str, Any]
    inputs_digest: str
    workspace: Workspace
    state: RunState = RunState.PENDING
    transitions: tuple[Transition, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    steps: tuple[StepRecord, ...] = ()
    artifacts: tuple[ArtifactRecord, ...] = ()
    error: RunError | None = None
    # Runs sent through a broker: the labels they need, and the worker that ran them.
    placement: Mapping[str, Any] | None = None
    waiting: WaitingFor | None = None
    cancelled: Answer | None = None
    rerun_of: str | None = None
    resumes: Resumption | None = None

    def moved_to(self, state: RunState, at: datetime | None = None) -> RunRecord:
        moment = at or utc_now()
        return dataclasses.replace(
            self, state=state, transitions=(*self.transitions, Transition(state, moment))
        )

    def with_step(self, step: StepRecord) -> RunRecord:
        steps = tuple(step if s.name == step.name else s for s in self.steps)
        return dataclasses.replace(self, steps=steps)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)

    @property
    def publication_pending(self) -> bool:
        return any(a.publication.state == "pending" for a in self.artifacts)


def to_json(record: RunRecord) -> dict[str, Any]:
    """The ``run.json`` document of a record."""
    data = _plain(record)
    assert isinstance(data, dict)
    data["duration_seconds"] = record.duration_seconds
    if data.get("placement") is None:
        data.pop("placement", None)
    return {"schema": SCHEMA_VERSION, **data}


def to_json_step(step: StepRecord) -> dict[str, Any]:
    """One step's entry of ``run.json``."""
    data = _plain(step)
    assert isinstance(data, dict)
    return data


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def step_from_json(entry: Mapping[str, Any], *, taken_from: str | None = None) -> StepRecord:
    """A step's record read back from its ``run.json`` entry; ``taken_from`` notes the run a
    resumed run took it over from (kept when the entry was taken over already)."""
    file = entry.get("file")
    answer = entry.get("answer")
    return StepRecord(
        name=str(entry["name"]),
        kind=StepKind(entry.get("kind", "script")),
        section=str(entry.get("section") or ""),
        line=int(entry.get("line") or 0),
        state=StepState(entry.get("state", "completed")),
        transitions=tuple(
            Transition(str(t.get("state")), moment(t.get("at")) or utc_now())
            for t in entry.get("transitions") or []
            if isinstance(t, dict)
        ),
        attempts=int(entry.get("attempts") or 0),
        started_at=moment(entry.get("started_at")),
        ended_at=moment(entry.get("ended_at")),
        exit_code=entry.get("exit_code"),
        outputs={str(k): str(v) for k, v in (entry.get("outputs") or {}).items()},
        log=entry.get("log"),
        body_sha256=entry.get("body_sha256"),
        rendered=entry.get("rendered"),
        file=FileWrite(**file) if isinstance(file, dict) else None,
        error=entry.get("error"),
        skipped_because=entry.get("skipped_because"),
        confirmed_by=entry.get("confirmed_by"),
        continued_on_error=bool(entry.get("continued_on_error")),
        answer=Answer(
            action=str(answer.get("action")),
            by=str(answer.get("by")),
            at=moment(answer.get("at")) or utc_now(),
            step=answer.get("step"),
        )
        if isinstance(answer, dict)
        else None,
        source_sha256=entry.get("source_sha256"),
        taken_over_from=entry.get("taken_over_from") or taken_from,
    )


def moment(value: Any) -> datetime | None:
    """A recorded UTC timestamp (``2026-11-25T22:15:00.123Z``) as an aware datetime; None
    for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
