"""One function per user action; `cli` and the HTTP service call these as a library user would."""

from orchestrator.api.apply import Prepared, RunRequest, apply, prepare, run_prepared
from orchestrator.api.history import Shown, logs, recover, runs, show
from orchestrator.api.inspect import Listed, Plan, list_documents, plan, summary, validate
from orchestrator.api.recording import log_tail, run_folder
from orchestrator.runner import PlannedStep

__all__ = [
    "Listed",
    "Plan",
    "PlannedStep",
    "Prepared",
    "RunRequest",
    "Shown",
    "apply",
    "list_documents",
    "log_tail",
    "logs",
    "plan",
    "prepare",
    "recover",
    "run_folder",
    "run_prepared",
    "runs",
    "show",
    "summary",
    "validate",
]
