"""Finding lost workers: a pass every 0.2 * ``lost_after`` in every worker.

One worker per pass (a short Redis mutex) scans the head of every workflow line:

- a ``started`` run whose lock is gone lost its worker (the lease was not renewed): it is
  declared ``lost`` atomically, its line moves on, and the next run is sent;
- a ``queued`` run that no lock holds and whose message went out longer than
  ``lost_after`` ago is sent again when a live worker serves its labels (its message may
  have died with a worker that had taken it; a duplicate is dropped when it arrives).

Then every worker records the lost runs of the repositories it serves ``failed`` in the
trace (see ``lost``), each run by one worker.
"""

from __future__ import annotations

import logging
import time

from orchestrator.broker import fleet
from orchestrator.broker.ledger import Head
from orchestrator.broker.message import BadMessage
from orchestrator.worker.execute import ring_head
from orchestrator.worker.lost import record_lost
from orchestrator.worker.runtime import Runtime

log = logging.getLogger("orch.worker")


def watch(runtime: Runtime) -> None:
    ledger = runtime.ledger
    with ledger.watch_turn(runtime.node, int(runtime.every * 900)) as mine:
        if mine:
            entries = fleet.workers(ledger)
            for head in list(ledger.heads()):
                _check(runtime, head, entries)
    for run_id, entry in ledger.unrecorded().items():
        if ledger.recording(
            run_id, runtime.node, max(int(runtime.options.lost_after * 1000), 5000)
        ):
            record_lost(runtime, run_id, entry)


def _check(runtime: Runtime, head: Head, entries: list[fleet.WorkerEntry]) -> None:
    ledger = runtime.ledger
    if ledger.holder(head.workflow_key) is not None:
        return
    if head.state == "started":
        following = ledger.declare_lost(head.workflow_key, head.run_id)
        if following is not None:
            log.warning(
                "run %s lost its worker %s: recorded as failed",
                head.run_id,
                head.fields.get("worker"),
            )
            if following:
                ring_head(runtime, head.workflow_key)
        return
    if head.state != "queued":
        return
    rung = float(head.fields.get("rung") or 0)
    if time.time() - rung < runtime.options.lost_after:
        return
    try:
        message = head.message
    except BadMessage as exc:
        log.error("run %s has a message orch cannot read: %s", head.run_id, exc)
        return
    if message is not None and fleet.live_server(entries, message.labels, message.repo):
        log.info(
            "run %s waited %.0f s for a worker: sending it again", head.run_id, time.time() - rung
        )
        ring_head(runtime, head.workflow_key)
