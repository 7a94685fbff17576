"""The Celery application of orch's workers, with its one task ``orch.run``.

``celery -A orchestrator.worker.app inspect active_queues`` (and Flower) use this module;
the broker comes from ``ORCH_BROKER_URL``. ``orch worker`` starts the worker loop on it.
"""

from __future__ import annotations

import os
from typing import Any

from orchestrator.broker.celery_app import DEFAULT_BROKER_URL, TASK_NAME, make_app

app = make_app(os.environ.get("ORCH_BROKER_URL") or DEFAULT_BROKER_URL)


@app.task(name=TASK_NAME, ignore_result=True)  # type: ignore[untyped-decorator]
def run(run: dict[str, Any]) -> str:
    """Run one run of the broker (see orchestrator.worker.execute)."""
    from orchestrator.worker.execute import handle

    return handle(run)


__all__ = ["app", "run"]
