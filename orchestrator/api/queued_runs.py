"""Queued runs for the HTTP service: validate and record ``pending`` now, run later.

``enqueue`` validates a run exactly as ``apply`` would and commits it to the trace in state
``pending`` before it returns, so a queued run survives a restart of the server.
``pending_runs`` reads those runs back (oldest first) and ``run_queued`` executes one under
its existing run id, in a fresh temporary worktree of the commit it was queued at, so the
trace shows one run going ``pending → running → completed``.

Secret inputs are never written down: a run restored from the trace whose secret inputs were
masked cannot run any more and is recorded ``failed`` with that reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import document, runner
from orchestrator.api.apply import (
    GitFacts,
    masked_inputs,
    new_record,
    new_run_id,
    run_prepared,
)
from orchestrator.api.inspect import find_workflow
from orchestrator.api.origin import origin, resume_plan
from orchestrator.api.receiving import prepare
from orchestrator.api.recording_runs import (
    RunRecorder,
    run_folder,
    trace_reader,
    trace_writer,
)
from orchestrator.api.run_request import Prepared, RunRequest
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.api.worktrees import TemporaryWorktree, temporary_worktree
from orchestrator.errors import (
    Diagnostic,
    DocumentError,
    InputError,
    OrchError,
    TraceError,
    UsageError,
)
from orchestrator.masking import MASK
from orchestrator.model import Document, Trigger
from orchestrator.record import Answer, timestamp, utc_now
from orchestrator.trace import TraceWriter, encode_record, repo

log = logging.getLogger("orch")


class UncommittedDocument(UsageError):
    """The document differs from HEAD: what was validated would not be what runs."""


@dataclass(frozen=True)
class Queued:
    """A run recorded ``pending``, waiting for a worker."""

    run_id: str
    workflow_id: str
    path: str
    commit: str
    actor: str
    queued_at: datetime
    inputs: Mapping[str, Any] = field(default_factory=dict)
    masked: frozenset[str] = frozenset()
    # For runs sent through a broker (see api/dispatch.py): how the run was triggered, the
    # committed document's blob, and where it may run.
    trigger: Trigger = Trigger.API
    cron_time: str | None = None
    blob: str | None = None
    placement: Mapping[str, Any] | None = None
    # A run queued again: the run it repeats, or the run it resumes (and whether steps that
    # changed since are taken over anyway).
    rerun_of: str | None = None
    resumes: str | None = None
    force: bool = False


def enqueue(
    where: Path,
    workflow_id: str,
    inputs: Mapping[str, Any],
    *,
    actor: str,
    environ: Mapping[str, str] | None = None,
    for_broker: bool = False,
) -> Queued:
    """Validate a run of ``workflow_id`` now and record it ``pending`` in the trace.

    Raises ``UnknownWorkflow``, ``UncommittedDocument``, or the ``DocumentError`` /
    ``InputError`` that ``apply`` would raise (a draft is refused: the trigger is ``api``).
    """
    place = locate(where)
    if not place.in_repository:
        raise UsageError(f"{where} is not a git repository: queued runs run committed documents")
    path = find_workflow(place, workflow_id)
    request = api_request(path, place, inputs, actor=actor, environ=environ, for_broker=for_broker)
    prepared = prepare(request)
    commit = repo.head_commit(place.root)
    if commit is None or repo.is_dirty(place.root, prepared.relative_path, prepared.document.text):
        raise UncommittedDocument(
            f"{prepared.relative_path} has changes that are not committed: "
            "commit it, so that the run executes the text that was validated"
        )
    return record_pending(prepared, commit)


def api_request(
    path: Path,
    place: DocumentHome,
    inputs: Mapping[str, Any],
    *,
    actor: str,
    environ: Mapping[str, str] | None,
    for_broker: bool = False,
) -> RunRequest:
    """The request of a run queued through the API, with its run id and queue time."""
    return RunRequest(
        path=path,
        supplied_inputs=dict(inputs),
        trigger=Trigger.API,
        actor=actor,
        workdir=place.root,
        run_id=new_run_id(),
        queued_at=utc_now(),
        environ=environ,
        for_broker=for_broker,
    )


def record_pending(
    prepared: Prepared,
    commit: str,
    facts: GitFacts | None = None,
    writer: TraceWriter | None = None,
) -> Queued:
    """Record a validated queued run as ``pending`` in the trace, and what the queue needs.

    Raises ``DocumentError`` when a step body would write an input into a script where it
    could change the syntax (or goes beyond a rendering limit): such a run is refused now,
    not accepted and failed later."""
    request = prepared.request
    assert request.run_id is not None and request.queued_at is not None
    settings = prepared.place.settings
    refused = runner.problems_with_inputs(
        prepared.document,
        prepared.inputs,
        path=prepared.relative_path,
        trigger=request.trigger.value,
        limits=runner.RenderLimits(settings.render_seconds, settings.render_max_chars),
    )
    if refused:
        raise DocumentError(refused)
    if request.for_broker:
        refuse_secret_inputs(prepared)
    record = new_record(prepared, request.run_id, facts)
    RunRecorder.open(prepared, run_folder(prepared, request.run_id), writer).save(record)
    log.info(
        "run %s of %s queued (%s by %s)",
        request.run_id,
        prepared.document.id,
        request.trigger.value,
        record.trigger.actor,
    )
    return Queued(
        run_id=request.run_id,
        workflow_id=prepared.document.id,
        path=prepared.relative_path,
        commit=commit,
        actor=request.actor or "",
        queued_at=request.queued_at,
        inputs=dict(request.supplied_inputs or {}),
        trigger=request.trigger,
        cron_time=request.cron_time,
        blob=record.document.blob,
        placement=record.placement,
    )


def refuse_secret_inputs(prepared: Prepared) -> None:
    """Secrets never go through the broker: refuse a run that supplies a secret input, or
    an input that holds the value of a secret."""
    doc = prepared.document
    problems = []
    masked = masked_inputs(prepared)
    for name, value in prepared.inputs.items():
        decl = doc.input(name)
        line = decl.line if decl is not None else doc.line_of("inputs")
        if name in prepared.secret_inputs:
            default = decl.default if decl is not None and decl.has_default else None
            if value is not None and value != default:
                problems.append(
                    _problem(
                        prepared,
                        line,
                        f"input '{name}' is secret, and secrets never travel through the broker:"
                        " give the workers the value in their environment (secrets:) instead",
                    )
                )
        elif masked.get(name) != value:
            problems.append(
                _problem(
                    prepared,
                    line,
                    f"input '{name}' holds the value of a secret, and secrets never travel "
                    "through the broker",
                )
            )
    if problems:
        raise InputError(problems)


def _problem(prepared: Prepared, line: int, message: str) -> Diagnostic:
    source = "<request>" if prepared.request.trigger is Trigger.API else str(prepared.document.path)
    return Diagnostic(source, 1 if source == "<request>" else line, 1, message)


def pending_runs(where: Path) -> list[Queued]:
    """The runs still ``pending`` in the trace, in the order they were queued.

    Run ids sort by the second they were made in, so the order is the recorded ``pending``
    time (milliseconds), then the run id.
    """
    place = locate(where)
    reader = trace_reader(place)
    if reader.tip_ref() is None:
        return []
    queued = [_restored(record) for record in reader.runs_in_state("pending")]
    return sorted((q for q in queued if q is not None), key=lambda q: (q.queued_at, q.run_id))


def _restored(record: Mapping[str, Any]) -> Queued | None:
    doc = record.get("document") or {}
    workspace = record.get("workspace") or {}
    trigger = record.get("trigger") or {}
    commit = workspace.get("commit") or doc.get("commit")
    transitions = record.get("transitions") or [{}]
    if not commit or not doc.get("path"):
        return None
    recorded = dict(record.get("inputs") or {})
    # A secret inside any other input was masked in the record as well: such a value can
    # not be restored either.
    masked = frozenset(
        name for name, value in recorded.items() if MASK in json.dumps(value, ensure_ascii=False)
    )
    try:
        queued_at = datetime.fromisoformat(str(transitions[0].get("at")).replace("Z", "+00:00"))
    except ValueError:
        queued_at = utc_now()
    found = record.get("resumes")
    resumes: Mapping[str, Any] = found if isinstance(found, dict) else {}
    return Queued(
        run_id=str(record.get("run_id")),
        workflow_id=str((record.get("workflow") or {}).get("id")),
        path=str(doc["path"]),
        commit=str(commit),
        actor=str(trigger.get("actor") or "api"),
        queued_at=queued_at,
        inputs={k: v for k, v in recorded.items() if k not in masked},
        masked=masked,
        trigger=_trigger(trigger.get("source")),
        cron_time=trigger.get("cron_time"),
        blob=doc.get("blob"),
        placement=record.get("placement"),
        rerun_of=str(record["rerun_of"]) if record.get("rerun_of") else None,
        resumes=str(resumes["run"]) if resumes.get("run") else None,
        force=bool(resumes.get("forced")),
    )


def _trigger(source: Any) -> Trigger:
    try:
        return Trigger(source)
    except ValueError:
        return Trigger.API


def run_queued(
    where: Path,
    queued: Queued,
    environ: Mapping[str, str] | None = None,
    observer: runner.Observer | None = None,
) -> str:
    """Run a queued run under its own id in a temporary worktree; its final state.

    A run never stays ``pending``: whatever keeps it from starting (a commit that is gone, a
    document that does not load, a lock that cannot be taken, a bug) is recorded as the
    reason it ``failed``; a bug is raised again once recorded.
    """
    place = locate(where, environ)
    try:
        cancelled = cancel_if_asked(place, queued)
        if cancelled is not None:
            return cancelled
        with temporary_worktree(place.root, queued.commit) as tree:
            return _run_in(tree, place, queued, environ, observer or runner.SilentObserver())
    except OrchError as exc:
        return fail_pending(place, queued, str(exc))
    except Exception as exc:
        fail_pending(place, queued, f"orch failed: {exc}")
        raise


def cancel_if_asked(place: DocumentHome, queued: Queued) -> str | None:
    """Record a queued run ``cancelled`` when a person cancelled it before it started (its
    new state), else None."""
    from orchestrator.api.answers import take_answer  # only queued runs need it here

    folder = place.settings.state_dir / "runs" / queued.workflow_id / queued.run_id
    answer = take_answer(folder)
    if answer is None or answer.action != "cancel":
        return None
    reason = f"cancelled by {answer.by} before it started"
    return fail_pending(place, queued, reason, cancelled=answer)


def _run_in(
    tree: TemporaryWorktree,
    place: DocumentHome,
    queued: Queued,
    environ: Mapping[str, str] | None,
    observer: runner.Observer,
) -> str:
    try:
        doc = document.load(tree.path / queued.path, keep=False)  # a path that never comes again
        lost = sorted(queued.masked & _secret_inputs(doc))
        if lost:
            return fail_pending(
                place,
                queued,
                f"secret input(s) {', '.join(lost)} are never written down and were lost when "
                "the server restarted before the run started; submit the run again",
            )
        if queued.masked:
            return fail_pending(
                place,
                queued,
                f"input(s) {', '.join(sorted(queued.masked))} held a secret, so they were "
                "recorded masked and were lost when the server restarted before the run "
                "started; submit the run again",
            )
        request = RunRequest(
            path=tree.path / queued.path,
            supplied_inputs=queued.inputs,
            trigger=queued.trigger,
            cron_time=queued.cron_time,
            actor=queued.actor,
            workdir=tree.path,
            worktree=tree,
            run_id=queued.run_id,
            queued_at=queued.queued_at,
            environ=environ,
            placement=queued.placement,
            rerun_of=queued.rerun_of,
        )
        if queued.resumes is not None:
            request = _resuming(place, request, doc, queued.resumes, queued.force)
        prepared = prepare(request)
        # An OrchError from run_prepared means the run did not start: nothing ran.
        return run_prepared(prepared, observer).state.value
    except OrchError as exc:
        return fail_pending(place, queued, f"the run could not start: {exc}")


def _resuming(
    place: DocumentHome, request: RunRequest, doc: Document, run: str, force: bool
) -> RunRequest:
    """``request`` resuming ``run``: the steps before where it stopped taken over."""
    plan = resume_plan(place, origin(place, run), doc, force=force)
    return dataclasses.replace(
        request, resumes=plan.resumption, taken_over=plan.steps, taken_over_logs=plan.logs
    )


def _secret_inputs(doc: Document) -> frozenset[str]:
    return frozenset(decl.name for decl in doc.inputs if decl.secret)


def fail_pending(
    place: DocumentHome, queued: Queued, reason: str, *, cancelled: Answer | None = None
) -> str:
    """Record a run that never started as ``failed`` with ``reason`` (``cancelled``, when a
    person cancelled it); returns the state it has now."""
    state = "cancelled" if cancelled is not None else "failed"
    reader = trace_reader(place)
    try:
        record = dict(reader.read_run(queued.run_id))
    except TraceError:
        return state
    if record.get("state") != "pending":
        return str(record.get("state"))
    now = timestamp(utc_now())
    record.update(
        state=state,
        transitions=[*(record.get("transitions") or []), {"state": state, "at": now}],
        ended_at=now,
        error={"step": None, "message": reason},
    )
    if cancelled is not None:
        record["cancelled"] = {
            "action": cancelled.action,
            "by": cancelled.by,
            "at": timestamp(cancelled.at),
            "step": None,
        }
    files = {"run.json": encode_record(record)}
    how = "Cancelled" if cancelled is not None else "Failed"
    report = (
        f"# {queued.workflow_id} run {queued.run_id}\n\n> **{how}** before it started: {reason}\n"
    )
    files["report.md"] = report.encode()
    trace_writer(place).commit_run(
        queued.workflow_id, queued.run_id, files, state=state, message_title=reason
    )
    log.info("run %s of %s ended %s: %s", queued.run_id, queued.workflow_id, state, reason)
    return state
