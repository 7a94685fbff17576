"""One function per user action; `cli` and the HTTP service call these as a library user would.

Names are imported on first use: a command pays start-up time only for what it runs (the
HTTP service and the artifact client are heavy, and most commands need neither).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.api.answers import Answered, cancel, confirm
    from orchestrator.api.apply import RunInterrupted, apply, run_prepared
    from orchestrator.api.inspect import (
        FoundDocument,
        Plan,
        list_documents,
        plan,
        summary,
        validate,
    )
    from orchestrator.api.outbox_delivery import Delivery, publish_pending
    from orchestrator.api.queued_runs import Queued, enqueue, pending_runs, run_queued
    from orchestrator.api.reading_runs import (
        RunDetails,
        StepLog,
        iter_runs,
        logs,
        recover,
        runs,
        show,
        step_logs,
    )
    from orchestrator.api.receiving import prepare
    from orchestrator.api.recording_runs import log_tail, run_folder
    from orchestrator.api.rerunning import enqueue_again, prepared_again
    from orchestrator.api.run_request import Prepared, RunRequest
    from orchestrator.api.scheduling import SchedulePass, schedule_forever, schedule_once
    from orchestrator.api.watching import RunEvent, RunWatch, watch
    from orchestrator.runner.plan import PlannedStep

_HOMES = {
    "Answered": "orchestrator.api.answers",
    "Delivery": "orchestrator.api.outbox_delivery",
    "FoundDocument": "orchestrator.api.inspect",
    "Plan": "orchestrator.api.inspect",
    "PlannedStep": "orchestrator.runner.plan",
    "Prepared": "orchestrator.api.run_request",
    "Queued": "orchestrator.api.queued_runs",
    "RunEvent": "orchestrator.api.watching",
    "RunInterrupted": "orchestrator.api.apply",
    "RunRequest": "orchestrator.api.run_request",
    "RunWatch": "orchestrator.api.watching",
    "SchedulePass": "orchestrator.api.scheduling",
    "RunDetails": "orchestrator.api.reading_runs",
    "StepLog": "orchestrator.api.reading_runs",
    "apply": "orchestrator.api.apply",
    "cancel": "orchestrator.api.answers",
    "confirm": "orchestrator.api.answers",
    "enqueue": "orchestrator.api.queued_runs",
    "iter_runs": "orchestrator.api.reading_runs",
    "enqueue_again": "orchestrator.api.rerunning",
    "list_documents": "orchestrator.api.inspect",
    "log_tail": "orchestrator.api.recording_runs",
    "logs": "orchestrator.api.reading_runs",
    "pending_runs": "orchestrator.api.queued_runs",
    "plan": "orchestrator.api.inspect",
    "prepare": "orchestrator.api.receiving",
    "prepared_again": "orchestrator.api.rerunning",
    "publish_pending": "orchestrator.api.outbox_delivery",
    "recover": "orchestrator.api.reading_runs",
    "run_folder": "orchestrator.api.recording_runs",
    "run_prepared": "orchestrator.api.apply",
    "run_queued": "orchestrator.api.queued_runs",
    "runs": "orchestrator.api.reading_runs",
    "schedule_forever": "orchestrator.api.scheduling",
    "schedule_once": "orchestrator.api.scheduling",
    "show": "orchestrator.api.reading_runs",
    "step_logs": "orchestrator.api.reading_runs",
    "summary": "orchestrator.api.inspect",
    "validate": "orchestrator.api.inspect",
    "watch": "orchestrator.api.watching",
}

__all__ = [
    "Answered",
    "Delivery",
    "FoundDocument",
    "Plan",
    "PlannedStep",
    "Prepared",
    "Queued",
    "RunDetails",
    "RunEvent",
    "RunInterrupted",
    "RunRequest",
    "RunWatch",
    "SchedulePass",
    "StepLog",
    "apply",
    "cancel",
    "confirm",
    "enqueue",
    "enqueue_again",
    "iter_runs",
    "list_documents",
    "log_tail",
    "logs",
    "pending_runs",
    "plan",
    "prepare",
    "prepared_again",
    "publish_pending",
    "recover",
    "run_folder",
    "run_prepared",
    "run_queued",
    "runs",
    "schedule_forever",
    "schedule_once",
    "show",
    "step_logs",
    "summary",
    "validate",
    "watch",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
