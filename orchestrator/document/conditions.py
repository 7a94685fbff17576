"""``if`` conditions that can never hold.

A step whose ``if`` calls no status function runs only while no earlier step has failed the
run (GitHub Actions' implicit ``success() and (...)``). So ``if="steps.verify.state ==
'failed'"`` never holds when ``verify`` fails the run: the step meant as cleanup would never
run. That is the writer's mistake, reported with the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.errors import Diagnostic
from orchestrator.model import Step
from orchestrator.templating import required_failures, status_functions_called


def never_true(step: Step, earlier: Sequence[Step], path: str) -> list[Diagnostic]:
    """Problems of ``step``'s ``if`` given the steps before it (its syntax already checked)."""
    condition = step.condition
    if condition is None or status_functions_called(condition):
        return []
    failing = {s.name: s for s in earlier if not s.continue_on_error}
    return [
        Diagnostic(
            path,
            step.line,
            1,
            f"step '{step.name}' if: steps.{name}.state == 'failed' is never true here: "
            f"when '{name}' fails, only steps whose if calls a status function run (an if "
            f'without one means success() and ...). Write if="failure() and {condition}" '
            'to run it after a failure, or if="always()" to run it in any case',
            code="template",
        )
        for name in dict.fromkeys(required_failures(condition))
        if name in failing
    ]
