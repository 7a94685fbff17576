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
from orchestrator.runner.rendering import problems_with_inputs
from orchestrator.templating import Limits as RenderLimits

__all__ = [
    "Execution",
    "Observer",
    "PlannedStep",
    "RenderLimits",
    "RunInterrupted",
    "SilentObserver",
    "context_after",
    "execute",
    "initial_steps",
    "log_name",
    "plan",
    "prepare",
    "problems_with_inputs",
    "source_digest",
]
