"""``orch plan``: every step rendered as it would run, executing nothing.

Values that exist only at run time (earlier steps' outputs) render as placeholders, and an
``if`` that depends on them, or on whether an earlier step failed (``failure()``,
``cancelled()``), is reported as decided at run time.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from orchestrator.errors import TemplateError
from orchestrator.model import Step, StepKind
from orchestrator.runner import files, rendering
from orchestrator.runner.engine import Execution, template_context_for


@dataclass(frozen=True)
class PlannedStep:
    """What a step would do in a run: whether it runs, its rendered body, any change."""

    step: Step
    will_run: bool | None  # None: an ``if`` that only the run can decide
    body: str | None
    error: str | None = None
    diff: str | None = None
    file_changes: bool | None = None


def plan(execution: Execution) -> list[PlannedStep]:
    env = rendering.render_env(execution)
    placeholders = rendering.placeholders(execution.document)
    template_context = template_context_for(execution, env=env, steps=placeholders)
    return [_plan_step(execution, step, template_context) for step in execution.document.steps]


def _plan_step(
    execution: Execution, step: Step, template_context: dict[str, object]
) -> PlannedStep:
    will_run: bool | None = True
    try:
        if step.condition is not None:
            if "steps" in step.condition:
                will_run = None
            else:
                will_run = rendering.condition_verdict(execution, step, template_context)
        body = rendering.render_body(execution, step, template_context)
    except TemplateError as exc:
        return PlannedStep(step=step, will_run=will_run, body=None, error=str(exc))
    if step.kind is not StepKind.FILE:
        return PlannedStep(step=step, will_run=will_run, body=body)
    current = files.current_text(step, execution.workdir)
    diff = "".join(
        difflib.unified_diff(
            (current or "").splitlines(keepends=True),
            body.splitlines(keepends=True),
            fromfile=f"a/{step.file}" if current is not None else "/dev/null",
            tofile=f"b/{step.file}",
        )
    )
    return PlannedStep(
        step=step, will_run=will_run, body=body, diff=diff, file_changes=current != body
    )
