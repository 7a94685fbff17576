"""Where a run stands between steps, and what the status functions of ``if`` answer.

GitHub Actions' meaning: a step whose ``if`` calls no status function runs only while the run
is a success (an implicit ``success() and (...)``). ``always()`` is always true; ``success()``
while no step failed the run and it was not cancelled; ``failure()`` once a step failed it
(not after a cancel); ``cancelled()`` once it was cancelled. A failed step with
``continue_on_error`` fails nothing.

The run is cancelled by Ctrl-C or by a person cancelling it: both set ``cancelled`` here,
and ``cancelled()`` reads nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator import templating
from orchestrator.model import Step


@dataclass(frozen=True)
class RunStatus:
    """``failed``: the step that failed the run first; ``cancelled``: why the run was
    cancelled (as later steps' ``skipped_because`` says it)."""

    failed: str | None = None
    cancelled: str | None = None

    def after_failure_of(self, step: str) -> RunStatus:
        return self if self.failed is not None else dataclasses.replace(self, failed=step)

    def after_cancel(self, reason: str) -> RunStatus:
        return self if self.cancelled is not None else dataclasses.replace(self, cancelled=reason)

    @property
    def success(self) -> bool:
        return self.failed is None and self.cancelled is None

    def functions(self) -> dict[str, Callable[[], bool]]:
        """The status functions, as an ``if`` condition calls them."""
        return {
            "always": lambda: True,
            "success": lambda: self.success,
            "failure": lambda: self.failed is not None and self.cancelled is None,
            "cancelled": lambda: self.cancelled is not None,
        }

    def holds_back(self, step: Step) -> str | None:
        """Why ``step`` does not run now without its ``if`` being asked (None: ask it). A
        condition that calls a status function decides for itself."""
        if step.condition is not None and templating.status_functions_called(step.condition):
            return None
        if self.cancelled is not None:
            return self.cancelled
        if self.failed is not None:
            return f"step '{self.failed}' failed before it"
        return None


# What ``orch plan`` and the checks before a run consider: a step may meet any of these.
EVERY_STATUS = (
    RunStatus(),
    RunStatus(failed="an earlier step"),
    RunStatus(cancelled="the run was cancelled"),
)
