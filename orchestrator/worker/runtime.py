"""The running ``orch worker``: its options, its clones, its broker, the runs it holds.

Timings all follow ``lost_after`` (default 60 s: a run whose worker died is recorded failed
within it): the lease of a running run lasts 0.6 of it and is renewed every 0.2 of it; the
heartbeat and the watchdog run every 0.2 of it. So a dead worker's lease runs out at most
0.6 * lost_after after its last renewal, and a watchdog notices within 0.2 * lost_after more.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.broker import fleet, routing
from orchestrator.broker.ledger import Ledger
from orchestrator.broker.message import RunMessage, normal_url
from orchestrator.errors import OrchError, UsageError
from orchestrator.process import host_name
from orchestrator.trace import shared
from orchestrator.trace.repo import data_home

log = logging.getLogger("orch.worker")

DEFAULT_LOST_AFTER = 60.0


@dataclass(frozen=True)
class WorkerOptions:
    """What ``orch worker`` was asked to be."""

    broker_url: str
    repos: tuple[str, ...]
    labels: tuple[str, ...] = ()
    concurrency: int = 2
    data_dir: Path | None = None
    name: str | None = None
    lost_after: float = DEFAULT_LOST_AFTER
    log_level: str = "INFO"

    @property
    def node(self) -> str:
        """Celery's node name, ``name@host`` (default ``orch@<this host>``)."""
        name = self.name or "orch"
        return name if "@" in name else f"{name}@{host_name()}"

    @property
    def folder(self) -> Path:
        return self.data_dir or data_home() / "orch" / "worker"


@dataclass
class Runtime:
    """The running worker, shared by its task threads, heartbeat and watchdog."""

    options: WorkerOptions
    ledger: Ledger
    clones: Mapping[str, tuple[str, Path]]
    queues: tuple[str, ...]
    # The Celery application whose queues it serves (typed Any: Celery ships no type hints).
    app: Any = None
    host: str = field(default_factory=host_name)
    started: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)
    _running: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def node(self) -> str:
        return self.options.node

    @property
    def lease_ms(self) -> int:
        return max(int(self.options.lost_after * 600), 300)

    @property
    def every(self) -> float:
        """How often leases are renewed and the heartbeat and watchdog run."""
        return max(self.options.lost_after * 0.2, 0.1)

    def clone_for(self, url: str) -> Path | None:
        found = self.clones.get(normal_url(url))
        return found[1] if found else None

    def started_run(self, message: RunMessage) -> None:
        with self._lock:
            self._running[message.run_id] = message.workflow
        self.beat()

    def ended_run(self, message: RunMessage) -> None:
        with self._lock:
            self._running.pop(message.run_id, None)
        self.beat()

    def entry(self, state: str = "running") -> fleet.WorkerEntry:
        with self._lock:
            running = tuple({"run": r, "workflow": w} for r, w in sorted(self._running.items()))
        return fleet.WorkerEntry(
            name=self.node,
            host=self.host,
            labels=self.options.labels,
            repos=tuple(url for url, _ in self.clones.values()),
            concurrency=self.options.concurrency,
            pid=os.getpid(),
            started=self.started,
            heartbeat=time.time(),
            lost_after=self.options.lost_after,
            running=running,
            state=state,
            version=__version__,
            queues=self.queues,
        )

    def beat(self, state: str = "running") -> None:
        try:
            fleet.beat(self.ledger, self.entry(state))
        except OrchError as exc:
            log.warning("heartbeat not written: %s", exc)


_current: Runtime | None = None


def current() -> Runtime:
    if _current is None:
        raise UsageError("this Celery worker was not started by `orch worker`: start it so")
    return _current


def install(runtime: Runtime | None) -> None:
    """Make ``runtime`` the worker this process is (None: it stopped)."""
    global _current
    _current = runtime


def prepare(options: WorkerOptions) -> Runtime:
    """Check the options, reach the broker and clone every repository (errors before any
    run is taken)."""
    if not options.repos:
        raise UsageError("--repo: name the shared repository (or repositories) this worker runs")
    if options.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if options.lost_after < 1:
        raise UsageError("--lost-after must be at least 1 second")
    labels = routing.check_labels(options.labels)
    queues = tuple(routing.queues_served(labels))
    ledger = Ledger(options.broker_url)
    ledger.ping()
    clones = {}
    for url in options.repos:
        clones[normal_url(url)] = (url, shared.ensure_clone(options.folder, url))
    return Runtime(options=options, ledger=ledger, clones=clones, queues=queues)
