"""What readers see of distributed runs: the shared trace folded into the local one, the
merged view pushed back, what each pending run waits for, and the registry of workers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.api.recording_runs import trace_writer
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.broker import fleet
from orchestrator.broker.connection import BrokerUnavailable, redacted
from orchestrator.broker.ledger import Ledger, ledger_for
from orchestrator.broker.message import RunMessage
from orchestrator.errors import TraceError, UsageError
from orchestrator.trace import shared

log = logging.getLogger("orch")

# Readers fetch the shared trace at most this often (orch serve answers many reads).
REFRESH_SECONDS = 1.0


_refreshed: dict[tuple[Path, str], float] = {}
_refresh_lock = threading.Lock()


def refresh(place: DocumentHome, *, force: bool = False) -> None:
    """Fold the shared trace into the local one (at most once a second), so that readers
    see what workers recorded. A remote that cannot be reached is a warning, not an error."""
    remote = place.settings.trace_remote
    if not place.settings.broker_url or not remote or not place.in_repository:
        return
    key = (place.root, place.settings.trace_branch)
    with _refresh_lock:
        now = time.monotonic()
        if not force and now - _refreshed.get(key, -REFRESH_SECONDS) < REFRESH_SECONDS:
            return
        _refreshed[key] = now
    try:
        shared.refresh_trace(place.root, place.settings.trace_branch, remote)
    except TraceError as exc:
        log.warning("the shared trace could not be read: %s", exc)


_published: dict[tuple[Path, str], str] = {}


def publish(place: DocumentHome) -> None:
    """Push the folded trace to the remote's trace branch, the merged view of every writer's
    ref (``orch serve`` calls this after each refresh); nothing when it did not change."""
    remote, branch = place.settings.trace_remote, place.settings.trace_branch
    if not place.settings.broker_url or not remote or not place.in_repository:
        return
    tip = trace_writer(place).store.read_ref(f"refs/heads/{branch}")
    key = (place.root, branch)
    if tip is None or _published.get(key) == tip:
        return
    try:
        shared.publish_view(place.root, branch, remote)
    except TraceError as exc:
        log.warning("the merged trace could not be pushed to %s: %s", remote, exc)
        return
    _published[key] = tip


def note_waiting(place: DocumentHome, records: Sequence[dict[str, Any]]) -> None:
    """Say, in each pending broker run's ``waiting``, what it waits for."""
    pending = [r for r in records if r.get("state") == "pending" and r.get("placement")]
    url = place.settings.broker_url
    if not pending or not url:
        return
    try:
        ledger = ledger_for(url)
        entries = fleet.workers(ledger)
        for record in pending:
            record["waiting"] = _waiting(ledger, entries, record)
    except BrokerUnavailable as exc:
        for record in pending:
            record["waiting"] = f"unknown: {exc}"


def _waiting(ledger: Ledger, entries: list[fleet.WorkerEntry], record: dict[str, Any]) -> str:
    run_id = str(record.get("run_id"))
    entry = ledger.run(run_id)
    if not entry:
        return "not in the broker: orch serve sends it when it starts again"
    state = entry.get("state")
    if state != "queued":
        worker = entry.get("worker")
        return f"{state} on {worker}" if worker else str(state)
    message = RunMessage.from_json(json.loads(entry["message"]))
    labels = message.labels
    if not fleet.live_server(entries, labels):
        wanted = f"labels {', '.join(labels)}" if labels else "no labels"
        return f"waiting for a worker with {wanted}"
    if not fleet.live_server(entries, labels, message.repo):
        return f"waiting for a worker that serves {message.repo}"
    ahead, head = ledger.position(message)
    if ahead > 0:
        return f"waiting for {ahead} earlier run(s) of {message.workflow} (first: {head})"
    return f"queued for a worker (queue {entry.get('queue')})"


def workers(where: Path, url: str | None = None) -> tuple[str, list[fleet.WorkerEntry]]:
    """The broker (named without its password) and its registry of workers."""
    url = url or locate(where).settings.broker_url
    if not url:
        raise UsageError(
            "no broker is configured: pass --broker or set ORCH_BROKER_URL (or 'broker' in "
            "orch's configuration)"
        )
    return redacted(url), fleet.workers(ledger_for(url))
