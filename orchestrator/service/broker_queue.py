"""``orch serve`` with a broker: runs are sent to the workers instead of run here.

``BrokerQueue`` stands where the local ``RunQueue`` stands: the server still takes its
repository's serve lock, a submission is still recorded ``pending`` before the 202 answer,
and ``put`` hands the run to the broker (see ``api/dispatch.py``). On start it sends the
runs left ``pending`` that the broker never received. A background thread folds the shared
trace into the server's own every ``REFRESH_SECONDS``, so that ``GET /api/runs`` shows what
the workers recorded, and pushes the result to the remote's trace branch (the merged view
of every writer's ref).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path

from orchestrator.api import dispatch, queued_runs, remote_view
from orchestrator.api.workspace import locate
from orchestrator.service.queue import RunQueue, _serve_lock

log = logging.getLogger("orch.serve")
REFRESH_SECONDS = 2.0


class BrokerQueue(RunQueue):
    """The run queue of a server whose runs go to a broker's workers."""

    def __init__(
        self, root: Path, workers: int = 2, *, environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(root, workers, environ=environ)
        self.place = locate(root, environ)
        self.broker_url = dispatch.check_broker(self.place)
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def open(self) -> int:
        if self._lock_fd is None:
            self._lock_fd = _serve_lock(self.root)
        return dispatch.restore(self.place)

    def start(self) -> None:
        if self._lock_fd is None:
            self.open()
        self._stop.clear()
        self._refresher = threading.Thread(
            target=self._refresh, name="orch-trace-refresh", daemon=True
        )
        self._refresher.start()

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            remote_view.refresh(self.place)
            remote_view.publish(self.place)

    def put(self, queued: queued_runs.Queued) -> None:
        """Send the run to the broker (``dispatch.NotSent`` when it could not go)."""
        sent = dispatch.send(self.place, queued)
        log.info(
            "run %s of %s sent to queue %s (number %d)",
            queued.run_id,
            queued.workflow_id,
            sent.queue,
            sent.sequence,
        )

    def waiting(self) -> int:
        return 0

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout)
            self._refresher = None
        super().stop(timeout)


def make_queue(root: Path, workers: int = 2, environ: Mapping[str, str] | None = None) -> RunQueue:
    """A ``BrokerQueue`` when a broker is configured, else the local ``RunQueue``."""
    if locate(root, environ).settings.broker_url:
        return BrokerQueue(root, workers, environ=environ)
    return RunQueue(root, workers, environ=environ)
