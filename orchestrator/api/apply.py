"""``orch apply``: receive → validate → execute → generate artifacts → publish → record.

Receiving and validating a request is :mod:`orchestrator.api.receiving`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator import __version__, document, runner
from orchestrator.api import ending, recording_runs
from orchestrator.api.lock import WaitNotice, workflow_lock
from orchestrator.api.receiving import prepare
from orchestrator.api.recovering import recover
from orchestrator.api.run_request import Prepared as Prepared  # named here as ever
from orchestrator.api.run_request import RunRequest as RunRequest
from orchestrator.api.workspace import (
    git_identity,
    working_copy_dirty,
)
from orchestrator.errors import TraceError, describe_os_error
from orchestrator.masking import MASK
from orchestrator.model import RunState
from orchestrator.process import host_name, process_start_token
from orchestrator.record import (
    DocumentInfo,
    RunError,
    RunRecord,
    TriggerInfo,
    WorkflowInfo,
    Workspace,
    utc_now,
)
from orchestrator.trace import repo

# orch's own credentials: a step never sees them.
CREDENTIAL_VARIABLES = frozenset(
    {
        "ORCH_DROPBOX_KEY",
        "ORCH_API_KEYS_JSON",
        "DROPBOX_API_KEYS_JSON",
        "DROPBOX_SHARED_KEY",
        "ORCH_BROKER_URL",
    }
)
# Set in every step's environment so that an orch hook inside a run knows to do nothing.
ACTIVE_RUN_VARIABLE = "ORCH_ACTIVE_RUN"


def new_run_id(now: datetime | None = None) -> str:
    """Sorts by time, unique across hosts: ``20261125T221500Z-3f9c2a``."""
    moment = (now or utc_now()).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def masked_inputs(prepared: Prepared) -> dict[str, Any]:
    """The inputs as the record keeps them: secret ones as ``***``, and a secret inside any
    other one masked too."""
    masker = prepared.masker
    return {
        name: (MASK if name in prepared.secret_inputs else masker.mask_value(value))
        for name, value in prepared.inputs.items()
    }


def _digest(values: Mapping[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class GitFacts:
    """What git says about where a run happens; asked once, or given by a caller that knows."""

    document_commit: str | None
    workspace_commit: str | None
    document_dirty: bool
    workspace_dirty: bool


def git_facts(prepared: Prepared) -> GitFacts:
    place = prepared.place
    if not place.in_repository:
        return GitFacts(None, None, document_dirty=False, workspace_dirty=False)
    unattended = prepared.request.workdir is not None
    head, blob = repo.head_and_blob(place.root, prepared.relative_path)
    same_tree = prepared.workdir == place.root.resolve()
    return GitFacts(
        document_commit=head,
        workspace_commit=head if same_tree else repo.head_commit(prepared.workdir),
        document_dirty=blob != repo.blob_id_of_text(prepared.document.text),
        workspace_dirty=not unattended and working_copy_dirty(place.root),
    )


def new_record(prepared: Prepared, run_id: str, facts: GitFacts | None = None) -> RunRecord:
    doc, place, request = prepared.document, prepared.place, prepared.request
    facts = facts or git_facts(prepared)
    unattended = request.workdir is not None
    pid = os.getpid()
    inputs = masked_inputs(prepared)
    placement = request.placement
    if placement is None and request.for_broker:
        placement = {"labels": list(doc.runs_on)}
    return RunRecord(
        run_id=run_id,
        workflow=WorkflowInfo(
            id=doc.id,
            title=doc.title,
            owner=doc.owner,
            status=doc.status.value,
            publication=doc.publication.value,
        ),
        document=DocumentInfo(
            path=prepared.relative_path,
            commit=facts.document_commit,
            blob=repo.blob_id_of_text(doc.text),
            dirty=facts.document_dirty,
        ),
        trigger=TriggerInfo(
            source=request.trigger,
            actor=request.actor or git_identity(place.root) or os.environ.get("USER", "unknown"),
            # A worker's run names the worker (`name@host`): its watchdogs, not crash
            # recovery on the host, decide when it is lost.
            host=str((placement or {}).get("worker") or host_name()),
            pid=pid,
            pid_started=process_start_token(pid),
            orch_version=__version__,
            cron_time=request.cron_time,
        ),
        inputs=inputs,
        inputs_digest=_digest(inputs),
        workspace=Workspace(
            kind="worktree"
            if unattended
            else ("working-copy" if place.in_repository else "folder"),
            commit=facts.workspace_commit,
            dirty=facts.workspace_dirty,
        ),
        placement=placement,
        rerun_of=request.rerun_of,
        resumes=request.resumes,
    ).moved_to(RunState.PENDING, request.queued_at)


def step_environment(prepared: Prepared, run_id: str) -> dict[str, str]:
    environ = {
        name: value
        for name, value in prepared.environ.items()
        if name not in CREDENTIAL_VARIABLES and not name.startswith("GIT_")
    }
    environ.update(document.input_environment(prepared.document, prepared.inputs))
    environ.update(
        ORCH_RUN_ID=run_id,
        ORCH_WORKFLOW_ID=prepared.document.id,
        ORCH_REPO_ROOT=str(prepared.workdir),
        **{ACTIVE_RUN_VARIABLE: run_id},
    )
    return environ


def execution_for(prepared: Prepared, record: RunRecord, run_folder: Path) -> runner.Execution:
    doc = prepared.document
    return runner.Execution(
        document=doc,
        inputs=prepared.inputs,
        environment=step_environment(prepared, record.run_id),
        workdir=prepared.workdir,
        run_folder=run_folder,
        masker=prepared.masker,
        run_info={
            "id": record.run_id,
            "trigger": record.trigger.source.value,
            "started_at": record.transitions[0].at.isoformat(),
            "actor": record.trigger.actor,
        },
        workflow_info={
            "id": doc.id,
            "title": doc.title,
            "owner": doc.owner,
            "status": doc.status.value,
            "path": prepared.relative_path,
            "revision": record.document.commit,
        },
        actor=record.trigger.actor,
        confirmed=prepared.request.confirmed,
        log_cap_bytes=prepared.place.settings.log_cap_bytes,
        render_limits=runner.RenderLimits(
            seconds=prepared.place.settings.render_seconds,
            max_chars=prepared.place.settings.render_max_chars,
        ),
        waits_for_people=prepared.request.waits,
        taken_over=prepared.request.taken_over,
    )


def apply(
    request: RunRequest,
    observer: runner.Observer | None = None,
    on_wait: WaitNotice | None = None,
) -> RunRecord:
    """Run a document end to end and return its final record."""
    prepared = prepare(request)
    return run_prepared(prepared, observer or runner.SilentObserver(), on_wait)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run during ``step``; ``record`` is the run as it was recorded."""

    def __init__(self, record: RunRecord, step: str | None) -> None:
        super().__init__()
        self.record = record
        self.step = step


def run_prepared(
    prepared: Prepared,
    observer: runner.Observer,
    on_wait: WaitNotice | None = None,
) -> RunRecord:
    """Execute a prepared run; ``on_wait`` hears when another run of the workflow is ahead.

    A run in a temporary worktree (``RunRequest.worktree``) removes it once the steps and
    artifacts are done, just before its end is recorded: a run reported finished has left
    nothing behind.

    Returns the final record. Raises ``RunInterrupted`` on Ctrl-C (after recording the run),
    and an ``OrchError`` only when the run could not start (then nothing ran).
    """
    recover(prepared.place)
    run_id = prepared.request.run_id or new_run_id()
    record = new_record(prepared, run_id)
    execution = execution_for(prepared, record, recording_runs.run_folder(prepared, run_id))
    env = runner.prepare(execution)
    book = recording_runs.RunRecorder.open(prepared, execution.run_folder)
    execution = dataclasses.replace(execution, on_process_start=book.note_process)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(
                workflow_lock(prepared.place, prepared.document.id, on_wait, run_id=run_id)
            )
        except OSError as exc:
            book.abandon()
            problem = describe_os_error(exc, "taking the workflow's lock")
            raise TraceError(f"{problem}; {recording_runs.DID_NOT_START}") from None
        except BaseException:  # Ctrl-C while waiting for another run of the workflow
            book.abandon()
            raise
        return _execute(prepared, execution, env, book, record, observer)


def _execute(
    prepared: Prepared,
    execution: runner.Execution,
    env: dict[str, str],
    book: recording_runs.RunRecorder,
    record: RunRecord,
    observer: runner.Observer,
) -> RunRecord:
    def end(record: RunRecord, error: RunError | None) -> RunRecord:
        if prepared.request.worktree is not None:
            prepared.request.worktree.remove()
        return ending.record_end(book, record, error)

    record = dataclasses.replace(record, steps=runner.initial_steps(execution))
    started = utc_now()
    record = dataclasses.replace(record, started_at=started).moved_to(RunState.RUNNING, started)
    book.start(record)
    book.write_logs(
        {
            step.log: prepared.request.taken_over_logs[name]
            for name, step in execution.taken_over.items()
            if step.log and name in prepared.request.taken_over_logs
        }
    )
    ending.log_start(record)
    watcher = ending.KeepsRunFolderCurrent(observer, book)
    # Imported here: apply is imported by every command, answers only matter while a run runs.
    from orchestrator.api.steering import RunControl

    control = RunControl(book, watcher, record, prepared.masker)
    watcher.on_step_running = control.step_running
    execution = dataclasses.replace(execution, steering=control)
    try:
        record = control.merged(runner.execute(execution, record, env, watcher))
    except runner.RunInterrupted as exc:
        try:
            final = end(control.merged(exc.record), exc.record.error)
        finally:
            exc.restore()
        ending.log_end(final)
        raise RunInterrupted(final, exc.step) from None
    except BaseException as exc:
        # A bug in orch (or a signal other than Ctrl-C): the run must not stay open.
        record = control.merged(watcher.latest(record))
        cut = RunError(step=ending.running_step(record), message=f"orch failed: {exc}")
        ending.log_end(end(record, cut))
        raise
    error = record.error
    if prepared.document.artifacts and record.cancelled is None:
        record, problem = ending.artifacts(prepared, execution, env, record)
        if problem is not None and error is None:
            error = RunError(step=None, message=problem)
    final = end(record, error)
    ending.log_end(final)
    return final
