"""Executes a document's steps. Knows nothing of git, HTTP services or artifacts.

``orch plan``'s dry run is :mod:`orchestrator.runner.plan`, imported by its users alone: a run
never needs it.
"""

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
from orchestrator.runner.rendering import problems_with_inputs
from orchestrator.templating import Limits as RenderLimits

__all__ = [
    "Execution",
    "Observer",
    "RenderLimits",
    "RunInterrupted",
    "SilentObserver",
    "context_after",
    "execute",
    "initial_steps",
    "log_name",
    "prepare",
    "problems_with_inputs",
    "source_digest",
]
