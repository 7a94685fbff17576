"""Running one message: start the run once, in order, under a lease, as a queued run runs.

A message may arrive twice (a redelivery, a watchdog's reminder) or before its turn; the
ledger's atomic start decides, and a message that may not start is dropped: the worker that
finishes the run ahead of it sends it again. A started run executes exactly as
``orch serve`` runs queued runs (``run_queued``: a temporary worktree of the commit, the
same recording), in this worker's clone, and its trace goes to the shared remote.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.api.dispatch import ring
from orchestrator.api.queued_runs import Queued, fail_pending, run_queued
from orchestrator.api.recording_runs import trace_reader
from orchestrator.api.workspace import locate
from orchestrator.broker import routing
from orchestrator.broker.connection import BrokerUnavailable
from orchestrator.broker.ledger import Claim
from orchestrator.broker.message import BadMessage, RunMessage, newer_than_this_worker
from orchestrator.errors import OrchError, TraceError
from orchestrator.model import Trigger
from orchestrator.trace import shared
from orchestrator.worker.lease import FencedObserver, Lease, LeaseLost
from orchestrator.worker.runtime import Runtime, current

log = logging.getLogger("orch.worker")
TERMINAL = ("completed", "failed")


def handle(payload: Any) -> str:
    """Run the message's run if it is its turn; what became of it (for Celery's log)."""
    runtime = current()
    try:
        message = RunMessage.from_json(payload)
    except BadMessage as exc:
        log.error("dropped a message orch cannot read: %s", exc)
        return f"dropped: {exc}"
    clone = runtime.clone_for(message.repo)
    if clone is None:
        log.warning(
            "run %s is for %s, which this worker does not serve (--repo); left for another",
            message.run_id,
            message.repo,
        )
        return "dropped: repository not served"
    claim = runtime.ledger.claim(message, runtime.node, runtime.host, runtime.lease_ms)
    if not claim.started:
        log.info("run %s not started here: %s %s", message.run_id, claim.outcome, claim.detail)
        return f"dropped: {claim.outcome}"
    runtime.started_run(message)
    state = "failed"
    try:
        with Lease(runtime.ledger, message, claim, runtime.lease_ms, runtime.every) as lease:
            state = run_claimed(runtime, clone, message, claim, lease)
    except LeaseLost as exc:
        log.error("run %s stopped: %s", message.run_id, exc)
    finally:
        runtime.ended_run(message)
        finish(runtime, message, claim, state)
    return state


def run_environment(message: RunMessage) -> dict[str, str]:
    """The worker's environment (its secrets, its DropBoxMini) with the message's trace."""
    environ = {k: v for k, v in os.environ.items() if k != "ORCH_TRACE_REPOSITORY"}
    environ.update(ORCH_TRACE_REMOTE=shared.ORIGIN, ORCH_TRACE_BRANCH=message.trace_branch)
    environ.pop("ORCH_TRACE_PREFIX", None)
    if message.trace_prefix:
        environ["ORCH_TRACE_PREFIX"] = message.trace_prefix
    return environ


def queued_from(message: RunMessage, runtime: Runtime, claim: Claim) -> Queued:
    return Queued(
        run_id=message.run_id,
        workflow_id=message.workflow,
        path=message.path,
        commit=message.commit,
        actor=message.actor,
        queued_at=datetime.fromisoformat(message.queued_at.replace("Z", "+00:00")),
        inputs=dict(message.inputs),
        trigger=Trigger(message.trigger),
        cron_time=message.cron_time,
        blob=message.blob,
        placement={
            "labels": list(message.labels),
            "queue": routing.queue_for(message.labels),
            "sequence": message.sequence,
            "worker": runtime.node,
            "host": runtime.host,
            "fencing_token": claim.token,
        },
    )


def run_claimed(
    runtime: Runtime, clone: Path, message: RunMessage, claim: Claim, lease: Lease
) -> str:
    environ = run_environment(message)
    try:
        shared.fetch_for_run(clone, message.commit, message.trace_branch)
    except TraceError as exc:
        # The trace may not be reachable either: a watchdog records the failure later.
        runtime.ledger.note_unrecorded(
            message, runtime.node, f"worker {runtime.node} could not fetch the run: {exc}"
        )
        return "failed"
    place = locate(clone, environ)
    queued = queued_from(message, runtime, claim)
    try:
        record = trace_reader(place).read_run(message.run_id)
    except TraceError:
        record = {}
    if record.get("state") in TERMINAL:
        log.info("run %s is already %s in the trace", message.run_id, record.get("state"))
        return str(record["state"])
    if newer_than_this_worker(message.orch_version):
        return fail_pending(
            place,
            queued,
            f"the run was sent by orch {message.orch_version}, newer than this worker's orch "
            f"{__version__}: upgrade the workers first, then submit the run again",
        )
    blob = shared.blob_at(clone, message.commit, message.path)
    if blob != message.blob:
        return fail_pending(
            place,
            queued,
            f"{message.path} at commit {message.commit[:12]} is not the document that was "
            f"validated (blob {blob} instead of {message.blob})",
        )
    return run_queued(clone, queued, environ, FencedObserver(lease))


def finish(runtime: Runtime, message: RunMessage, claim: Claim, state: str) -> None:
    """Release the lock and leave the line; send the next run of the workflow on its way."""
    try:
        head = runtime.ledger.finish(message, claim, state)
        if head:
            ring_head(runtime, message.workflow_key)
    except (BrokerUnavailable, OrchError) as exc:
        # The lease runs out and a watchdog frees the line; the trace already has the run.
        log.error("run %s finished %s but the broker was not told: %s", message.run_id, state, exc)


def ring_head(runtime: Runtime, workflow_key: str) -> None:
    """Send the message of the workflow's first run again, when it waits to start."""
    head = runtime.ledger.head(workflow_key)
    if head is None or head.state != "queued":
        return
    message = head.message
    if message is None:
        return
    queue = head.fields.get("queue") or routing.queue_for(message.labels)
    ring(runtime.app, runtime.ledger, message, queue)
