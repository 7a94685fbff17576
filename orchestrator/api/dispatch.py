"""Sending runs to the broker instead of running them here (see docs/distributed.md).

With a broker configured (``ORCH_BROKER_URL`` or the setting ``broker``), ``orch serve``,
``orch schedule``, the post-commit hook and ``orch apply --queue`` validate a run exactly as
before and record it ``pending``; then, before anything reaches the broker,

1. the trace with the ``pending`` record is pushed to the shared trace remote (workers fetch
   it from there), and the run's commit is made fetchable there;
2. the run joins its workflow's line in the broker's ledger (its sequence number: the order
   runs of one workflow start in);
3. its message goes to the Celery queue of its labels (``runs_on``).

A run that cannot be sent is recorded ``failed`` with the reason, so nothing stays pending
that no worker will ever see. Secrets never travel: a run that supplies a secret input is
refused before it is recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.api.apply import GitFacts, new_record, new_run_id
from orchestrator.api.queued_runs import Queued, fail_pending, pending_runs, record_pending
from orchestrator.api.receiving import prepare, validate_request
from orchestrator.api.recording_runs import trace_writer
from orchestrator.api.run_request import Prepared, RunRequest
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.broker import routing
from orchestrator.broker.connection import BrokerUnavailable
from orchestrator.broker.ledger import Ledger, ledger_for
from orchestrator.broker.message import RunMessage
from orchestrator.errors import OrchError, TraceError, UsageError
from orchestrator.model import Document, Trigger
from orchestrator.record import RunRecord, timestamp, utc_now
from orchestrator.trace import repo, shared

log = logging.getLogger("orch")


class NotSent(OrchError):
    """The run could not be handed to the workers; it is recorded ``failed`` with why."""


@dataclass(frozen=True)
class Sent:
    """A run in the broker: its place in its workflow's line and its queue."""

    queued: Queued
    sequence: int
    queue: str
    record: RunRecord | None = None


def broker_url(place: DocumentHome) -> str | None:
    return place.settings.broker_url


def require_broker(place: DocumentHome) -> str:
    """The broker URL and a usable trace remote, or a UsageError saying what to set."""
    url = place.settings.broker_url
    if not url:
        raise UsageError(
            "no broker is configured: set ORCH_BROKER_URL (or 'broker' in orch's "
            "configuration) to the Redis the workers use, e.g. redis://broker-host:6379/0"
        )
    if not place.in_repository:
        raise UsageError(f"{place.root} is not a git repository: workers run committed documents")
    if not place.settings.trace_remote:
        raise UsageError(
            "runs sent to a broker need a shared trace remote: set ORCH_TRACE_REMOTE "
            "(or 'trace-remote') to the remote the workers clone, e.g. origin"
        )
    if place.settings.trace_repository is not None:
        raise UsageError(
            "runs sent to a broker are recorded in the repository's own trace branch: "
            "unset 'trace-repository' (ORCH_TRACE_REPOSITORY)"
        )
    return url


# Celery applications by broker URL (typed Any: Celery ships no type hints).
_apps: dict[str, Any] = {}
_apps_lock = threading.Lock()


def celery_for(url: str) -> Any:
    with _apps_lock:
        app = _apps.get(url)
        if app is None:
            from orchestrator.broker.celery_app import make_app

            app = _apps[url] = make_app(url)
        return app


def check_broker(place: DocumentHome) -> str:
    """Fail now, with what to do, when the broker or the trace remote is not usable."""
    url = require_broker(place)
    ledger_for(url).ping()
    return url


def sendable_inputs(prepared: Prepared) -> dict[str, Any]:
    """The inputs a message carries: every resolved value but the secret ones."""
    return {k: v for k, v in prepared.inputs.items() if k not in prepared.secret_inputs}


def message_for(place: DocumentHome, queued: Queued) -> RunMessage:
    settings = place.settings
    assert settings.trace_remote is not None
    placement = queued.placement or {}
    return RunMessage(
        run_id=queued.run_id,
        workflow=queued.workflow_id,
        repo=_remote_url(place.root, settings.trace_remote),
        commit=queued.commit,
        path=queued.path,
        blob=queued.blob or "",
        trigger=queued.trigger.value,
        actor=queued.actor,
        queued_at=timestamp(queued.queued_at),
        inputs=dict(queued.inputs),
        cron_time=queued.cron_time,
        labels=routing.check_labels(placement.get("labels") or (), "runs_on"),
        trace_branch=settings.trace_branch,
        trace_prefix=settings.trace_prefix,
    )


# What a long-running submitter (orch serve) already asked git once: remote URLs, and the
# commits known to be on the remote (commits and remotes do not change under a server).
_remote_urls: dict[tuple[Path, str], str] = {}
_on_remote: set[tuple[Path, str]] = set()


def _remote_url(root: Path, remote: str) -> str:
    known = _remote_urls.get((root, remote))
    if known is None:
        known = _remote_urls[(root, remote)] = shared.remote_url(root, remote)
    return known


def send(place: DocumentHome, queued: Queued) -> Sent:
    """Hand a run recorded ``pending`` to the workers (see the module's description).

    Raises ``NotSent`` after recording the run ``failed`` when the trace remote or the
    broker cannot be reached.
    """
    url = require_broker(place)
    writer = trace_writer(place)
    remote = place.settings.trace_remote
    assert remote is not None
    try:
        if not shared.pushed(writer):
            writer.push()
        if (place.root, queued.commit) not in _on_remote:
            shared.ensure_on_remote(place.root, remote, queued.commit)
            _on_remote.add((place.root, queued.commit))
        message = message_for(place, queued)
    except TraceError as exc:
        raise _not_sent(place, queued, f"the shared trace remote {remote!r}: {exc}") from exc
    queue = routing.queue_for(message.labels)
    ledger = ledger_for(url)
    try:
        sequence = ledger.register(message, queue)
    except BrokerUnavailable as exc:
        raise _not_sent(place, queued, str(exc)) from exc
    ring(celery_for(url), ledger, message.numbered(sequence), queue, place, queued)
    return Sent(queued, sequence, queue)


def ring(
    app: Any,
    ledger: Ledger,
    message: RunMessage,
    queue: str,
    place: DocumentHome | None = None,
    queued: Queued | None = None,
) -> None:
    """Publish the run's message. When that fails right after registering, the run is taken
    out of its line again and (given ``place``) recorded failed."""
    from orchestrator.broker.celery_app import send as publish

    try:
        publish(app, message.to_json(), queue)
        ledger.rung(message.run_id)
    except BrokerUnavailable as exc:
        if place is None or queued is None:
            raise
        try:
            ledger.unregister(message)
        except BrokerUnavailable:
            # Still registered: a watchdog sends it again, and the worker finds it failed.
            log.warning("run %s stays in the broker's line: %s", message.run_id, exc)
        raise _not_sent(place, queued, str(exc)) from exc


def _not_sent(place: DocumentHome, queued: Queued, reason: str) -> NotSent:
    text = f"the run could not be sent to the workers: {reason}; submit it again"
    try:
        fail_pending(place, queued, text)
    except OrchError as exc:
        log.warning("run %s could not be recorded failed: %s", queued.run_id, exc)
    return NotSent(f"run {queued.run_id} of {queued.workflow_id} was not queued: {reason}")


def submit(prepared: Prepared, commit: str, facts: GitFacts | None = None) -> Sent:
    """Record a validated run ``pending`` and send it (schedule, hooks, ``apply --queue``)."""
    queued = record_pending(prepared, commit, facts)
    queued = dataclasses.replace(queued, inputs=sendable_inputs(prepared))
    sent = send(prepared.place, queued)
    record = new_record(prepared, queued.run_id, facts)
    return dataclasses.replace(sent, record=record)


def queue_request(request: RunRequest) -> Sent:
    """``orch apply --queue``: validate the committed document and send it to the workers."""
    place = locate(request.path, request.environ)
    require_broker(place)
    if request.allow_draft:
        raise UsageError("--queue sends approved documents only: --allow-draft cannot be used")
    prepared = prepare(
        dataclasses.replace(
            request,
            trigger=Trigger.MANUAL,
            for_broker=True,
            workdir=place.root,
            run_id=new_run_id(),
            queued_at=utc_now(),
        )
    )
    commit = repo.head_commit(place.root)
    if commit is None or repo.is_dirty(place.root, prepared.relative_path, prepared.document.text):
        raise UsageError(
            f"{prepared.relative_path} has changes that are not committed: commit it, so "
            "that the workers run the text that was validated"
        )
    facts = GitFacts(commit, commit, document_dirty=False, workspace_dirty=False)
    return submit(prepared, commit, facts)


def submit_committed(
    place: DocumentHome,
    commit: str,
    doc: Document,
    relative_path: str,
    *,
    trigger: Trigger,
    actor: str,
    cron_time: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Sent:
    """Validate a document as ``commit`` holds it and send it (``orch schedule``, hooks)."""
    require_broker(place)
    environment = dict(os.environ if environ is None else environ)
    request = RunRequest(
        path=place.root / relative_path,
        trigger=trigger,
        actor=actor,
        workdir=place.root,
        cron_time=cron_time,
        run_id=new_run_id(),
        queued_at=utc_now(),
        environ=environment,
        for_broker=True,
    )
    prepared = validate_request(request, place, doc, relative_path, environment)
    facts = GitFacts(commit, commit, document_dirty=False, workspace_dirty=False)
    return submit(prepared, commit, facts)


def restore(place: DocumentHome) -> int:
    """At ``orch serve``'s start: send the runs left ``pending`` that the broker does not
    know (a server that stopped between recording and sending); how many were sent."""
    from orchestrator.api.remote_view import refresh

    url = require_broker(place)
    refresh(place, force=True)
    ledger = ledger_for(url)
    sent = 0
    for queued in pending_runs(place.root):
        if queued.placement is None or ledger.run(queued.run_id):
            continue
        if queued.masked:
            fail_pending(
                place,
                queued,
                f"input(s) {', '.join(sorted(queued.masked))} were recorded masked and cannot "
                "be sent to the workers; submit the run again",
            )
            continue
        try:
            send(place, queued)
            sent += 1
        except NotSent as exc:
            log.warning("%s", exc)
    return sent
