"""One function per user action; `cli` and the HTTP service call these as a library user would."""

from orchestrator.api.apply import Prepared, RunRequest, apply, prepare, run_prepared
from orchestrator.api.history import Shown, logs, recover, runs, show
from orchestrator.api.inspect import Listed, Plan, list_documents, plan, summary, validate
from orchestrator.api.publishing import Delivery, publish_pending
from orchestrator.api.queueing import Queued, enqueue, pending_runs, run_queued, serve
from orchestrator.api.recording import log_tail, run_folder
from orchestrator.runner import PlannedStep
from orchestrator.schedule.scheduler import SchedulePass, schedule_forever, schedule_once

__all__ = [
    "Delivery",
    "Listed",
    "Plan",
    "PlannedStep",
    "Prepared",
    "Queued",
    "RunRequest",
    "SchedulePass",
    "Shown",
    "apply",
    "enqueue",
    "list_documents",
    "log_tail",
    "logs",
    "pending_runs",
    "plan",
    "prepare",
    "publish_pending",
    "recover",
    "run_folder",
    "run_prepared",
    "run_queued",
    "runs",
    "schedule_forever",
    "schedule_once",
    "serve",
    "show",
    "summary",
    "validate",
]
