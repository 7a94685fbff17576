"""The run queue of ``orch serve``: one FIFO line per workflow, a bounded pool of workers.

A worker takes the workflow at the front of the ready line, runs the oldest run of that
workflow, and puts the workflow back at the end of the line if more of its runs wait. So runs
of one workflow run strictly one after another in the order they were queued, and runs of
different workflows run in parallel, up to the number of workers.

Only one server may serve a repository: starting takes ``<state_dir>/serve.lock``, so two
servers never pick up the same pending runs after a restart.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from orchestrator.api import queued_runs
from orchestrator.api.workspace import locate
from orchestrator.errors import UsageError

log = logging.getLogger("orch.serve")

Runner = Callable[[Path, queued_runs.Queued], str]


class RunQueue:
    def __init__(
        self,
        root: Path,
        workers: int = 2,
        *,
        run: Runner | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if workers < 1:
            raise UsageError("the service needs at least one worker")
        self.root = root
        self.workers = workers
        self._environ = environ
        self._run: Runner = run or self._run_queued
        self._lines: dict[str, collections.deque[queued_runs.Queued]] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._active: set[str] = set()
        self._condition = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._lock_fd: int | None = None

    def _run_queued(self, root: Path, queued: queued_runs.Queued) -> str:
        return queued_runs.run_queued(root, queued, self._environ)

    def open(self) -> int:
        """Take the repository's serve lock and queue the runs left ``pending``; how many."""
        if self._lock_fd is None:
            self._lock_fd = _serve_lock(self.root)
        restored = queued_runs.pending_runs(self.root)
        for queued in restored:
            self.put(queued)
        return len(restored)

    def start(self) -> None:
        if self._lock_fd is None:
            self.open()
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"orch-run-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def put(self, queued: queued_runs.Queued) -> None:
        with self._condition:
            self._lines.setdefault(queued.workflow_id, collections.deque()).append(queued)
            wf = queued.workflow_id
            if wf not in self._active and wf not in self._ready:
                self._ready.append(wf)
                self._condition.notify()

    def discard(self, run_id: str) -> queued_runs.Queued | None:
        """Take a queued run that has not started out of its line (None: not queued here)."""
        with self._condition:
            for workflow, line in self._lines.items():
                for queued in line:
                    if queued.run_id == run_id:
                        line.remove(queued)
                        if not line and workflow in self._ready:
                            self._ready.remove(workflow)
                        return queued
        return None

    def cancel(self, run_id: str) -> str | None:
        """A queued run a person cancelled leaves the queue at once, recorded ``cancelled``;
        its new state (None when this queue does not hold it)."""
        queued = self.discard(run_id)
        if queued is None:
            return None
        return queued_runs.cancel_if_asked(locate(self.root), queued)

    def waiting(self) -> int:
        with self._condition:
            return sum(len(line) for line in self._lines.values())

    def stop(self, timeout: float | None = None) -> None:
        """Take no more runs; wait for the runs in progress to finish. Queued runs stay
        ``pending`` in the trace and are picked up by the next server."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _next(self) -> queued_runs.Queued | None:
        with self._condition:
            while not self._stopping and not self._ready:
                self._condition.wait()
            if self._stopping:
                return None
            wf = self._ready.popleft()
            self._active.add(wf)
            return self._lines[wf].popleft()

    def _done(self, workflow_id: str) -> None:
        with self._condition:
            self._active.discard(workflow_id)
            if self._lines.get(workflow_id):
                self._ready.append(workflow_id)
                self._condition.notify()
            else:
                self._lines.pop(workflow_id, None)

    def _work(self) -> None:
        while True:
            queued = self._next()
            if queued is None:
                return
            try:
                self._run(self.root, queued)  # the api logs the run's start and end
            except Exception:
                log.exception("run %s of %s broke the worker", queued.run_id, queued.workflow_id)
            finally:
                self._done(queued.workflow_id)


def _serve_lock(root: Path) -> int:
    state_dir = locate(root).settings.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# orch's local state: never committed\n*\n", encoding="utf-8")
    path = state_dir / "serve.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 40, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise UsageError(
            f"another orch serve (pid {holder}) already serves {root}: stop it first"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
