"""The run queue of ``orch serve``: one FIFO line per workflow, ``workers`` runs at a time.

The dispatcher takes the workflow at the front of the ready line, starts the oldest run of
that workflow in a thread of its own, and puts the workflow back at the end of the line once
that run ended, if more of its runs wait. So runs of one workflow run strictly one after
another in the order they were queued, and runs of different workflows run in parallel, up to
``workers`` at a time.

A run that waits for a person (a manual step) gives its place back while it waits, and keeps
its workflow's place in the line: other workflows' runs go on. Once answered it goes on at
once, even when that makes one more run than ``workers`` for a while: a person who answered
is not kept waiting behind the queue.

Only one server may serve a repository: starting takes ``<state_dir>/serve.lock``, so two
servers never pick up the same pending runs after a restart.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from orchestrator.api import queued_runs
from orchestrator.api.workspace import locate
from orchestrator.errors import UsageError
from orchestrator.model import Step, StepState
from orchestrator.record import StepRecord

log = logging.getLogger("orch.serve")


class RunQueue:
    def __init__(
        self, root: Path, workers: int = 2, *, environ: Mapping[str, str] | None = None
    ) -> None:
        if workers < 1:
            raise UsageError("the service needs at least one worker")
        self.root = root
        self.workers = workers
        self._environ = environ
        self._lines: dict[str, collections.deque[queued_runs.Queued]] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._active: set[str] = set()
        # Runs that run now (not those that wait for a person): at most ``workers`` start.
        self._busy = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._dispatcher: threading.Thread | None = None
        self._runs: set[threading.Thread] = set()
        self._lock_fd: int | None = None

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
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="orch-run-dispatch", daemon=True
        )
        self._dispatcher.start()

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
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
            self._dispatcher = None
        with self._condition:
            running = list(self._runs)
        for thread in running:
            thread.join(timeout)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _dispatch(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and not (self._ready and self._busy < self.workers):
                    self._condition.wait()
                if self._stopping:
                    return
                wf = self._ready.popleft()
                self._active.add(wf)
                queued = self._lines[wf].popleft()
                self._busy += 1
                thread = threading.Thread(
                    target=self._run, args=(queued,), name=f"orch-run-{queued.run_id}", daemon=True
                )
                self._runs.add(thread)
            thread.start()

    def _run(self, queued: queued_runs.Queued) -> None:
        place = _Place(self)
        try:
            # The api logs the run's start and end.
            queued_runs.run_queued(self.root, queued, self._environ, place)
        except Exception:
            log.exception("run %s of %s broke the worker", queued.run_id, queued.workflow_id)
        finally:
            with self._condition:
                if place.held:
                    self._busy -= 1
                self._runs.discard(threading.current_thread())
                self._active.discard(queued.workflow_id)
                if self._lines.get(queued.workflow_id):
                    self._ready.append(queued.workflow_id)
                else:
                    self._lines.pop(queued.workflow_id, None)
                self._condition.notify_all()

    def give_back(self) -> None:
        """A run waits for a person: another may start in its place."""
        with self._condition:
            self._busy -= 1
            self._condition.notify_all()

    def take_again(self) -> None:
        """A run that waited goes on (at once, whatever the others do)."""
        with self._condition:
            self._busy += 1


class _Place:
    """A run's place among the ``workers`` runs that run: given back while a step waits for
    a person, taken again as soon as the run goes on (the runner's ``Observer``)."""

    verbose = False

    def __init__(self, queue: RunQueue) -> None:
        self._queue = queue
        self.held = True

    def step_changed(self, step: StepRecord) -> None:
        if step.state is StepState.WAITING and self.held:
            self.held = False
            self._queue.give_back()
        elif step.state is not StepState.WAITING and not self.held:
            self.held = True
            self._queue.take_again()

    def step_output(self, step: str, line: str) -> None:
        pass

    def confirm(self, step: Step, instruction: str) -> bool | None:
        return None


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
