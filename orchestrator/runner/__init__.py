"""Executes a document's steps. Knows nothing of git, HTTP services or artifacts."""

from orchestrator.runner.engine import (
    Execution,
    Observer,
    SilentObserver,
    context_after,
    execute,
    initial_steps,
    log_name,
    prepare,
    source_digest,
)
from orchestrator.runner.interruption import RunInterrupted
from orchestrator.runner.plan import PlannedStep, plan

__all__ = [
    "Execution",
    "Observer",
    "PlannedStep",
    "RunInterrupted",
    "SilentObserver",
    "context_after",
    "execute",
    "initial_steps",
    "log_name",
    "plan",
    "prepare",
    "source_digest",
]
