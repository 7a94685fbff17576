"""``orch plan``: every step rendered as it would run, executing nothing.

Values that exist only at run time (earlier steps' outputs) render as placeholders, and an
``if`` that depends on them is reported as decided at run time.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from orchestrator import templating
from orchestrator.errors import TemplateError
from orchestrator.model import Step, StepKind
from orchestrator.runner import files
from orchestrator.runner.engine import Execution, render_env, template_context_for


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    will_run: bool | None  # None: an ``if`` that only the run can decide
    body: str | None
    error: str | None = None
    diff: str | None = None
    file_changes: bool | None = None


def plan(execution: Execution) -> list[PlannedStep]:
    env = render_env(execution)
    placeholders = {
        step.name: templating.Placeholder(f"steps.{step.name}") for step in execution.document.steps
    }
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
                where = execution.where(step.line, f"step '{step.name}' if")
                will_run = bool(templating.evaluate(step.condition, template_context, where))
        body = step.body
        if step.render:
            where = execution.where(step.body_line, f"step '{step.name}'")
            body = templating.render(step.body, template_context, where, body=True)
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
