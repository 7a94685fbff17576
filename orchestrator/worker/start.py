"""Starting ``orch worker``: its heartbeat and watchdog threads, then Celery's worker loop."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from orchestrator.broker.celery_app import transport_options
from orchestrator.worker.app import app
from orchestrator.worker.runtime import Runtime, WorkerOptions, install, prepare
from orchestrator.worker.watchdog import watch

log = logging.getLogger("orch.worker")


def _every(runtime: Runtime, action: Callable[[], None], name: str) -> threading.Thread:
    def loop() -> None:
        while not runtime.stop.is_set():
            try:
                action()
            except Exception:  # a broken pass must not end the thread
                log.exception("%s failed", name)
            runtime.stop.wait(runtime.every)

    thread = threading.Thread(target=loop, name=f"orch-{name}", daemon=True)
    thread.start()
    return thread


def run_worker(options: WorkerOptions) -> None:
    """Serve runs until Celery's worker stops (SIGTERM/SIGINT: the runs in progress end)."""
    runtime = dataclasses.replace(prepare(options), app=app)
    app.conf.update(
        broker_url=options.broker_url,
        broker_transport_options=transport_options(options.lost_after),
    )
    install(runtime)
    threads = [
        _every(runtime, runtime.beat, "heartbeat"),
        _every(runtime, lambda: watch(runtime), "watchdog"),
    ]
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={options.concurrency}",
        f"--queues={','.join(runtime.queues)}",
        f"--hostname={options.node}",
        f"--loglevel={options.log_level}",
        "--without-mingle",
        "--without-gossip",
    ]
    try:
        app.worker_main(argv)
    finally:
        runtime.stop.set()
        for thread in threads:
            thread.join(timeout=5)
        runtime.beat("stopped")
        install(None)
