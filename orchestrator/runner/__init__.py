"""Executes a document's steps. Knows nothing of git, HTTP services or artifacts."""

from orchestrator.runner.engine import (
    Execution,
    Observer,
    SilentObserver,
    context_after,
    execute,
    initial_steps,
    prepare,
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
    "plan",
    "prepare",
    "problems_with_inputs",
]
