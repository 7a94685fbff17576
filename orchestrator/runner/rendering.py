"""Rendering a run's templates: ``env`` values, ``if`` conditions, step bodies.

A script step's body is rendered knowing its language, so that outside values that could
change its syntax are refused (see ``orchestrator.templating.guard``). Before the first step
runs, every body is rendered once with the run's real inputs (earlier steps' outputs stand
in as placeholders): a body that would be refused, or that goes beyond a rendering limit,
refuses the whole run before anything ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator import templating
from orchestrator.errors import Diagnostic, TemplateError, TemplateRefused
from orchestrator.model import Document, Step, StepKind
from orchestrator.runner import context
from orchestrator.runner.status import EVERY_STATUS, RunStatus

_SHELLS = ("sh", "bash", "zsh", "shell")
_PYTHONS = ("python", "python3")


class Renders(Protocol):
    """What rendering needs of a run (an ``Execution``)."""

    @property
    def document(self) -> Document: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...

    @property
    def run_info(self) -> Mapping[str, Any]: ...

    @property
    def workflow_info(self) -> Mapping[str, Any]: ...

    @property
    def render_limits(self) -> templating.Limits: ...

    def where(self, line: int, what: str) -> templating.Where: ...


def script_language(step: Step) -> templating.ScriptLanguage | None:
    """The quoting a step's body takes (None: the body is not a script)."""
    if step.kind is not StepKind.SCRIPT:
        return None
    if step.interpreter is not None:
        return templating.ScriptLanguage.OTHER
    if step.language in _SHELLS:
        return templating.ScriptLanguage.SH
    if step.language in _PYTHONS:
        return templating.ScriptLanguage.PYTHON
    return templating.ScriptLanguage.OTHER


def template_context(
    run: Renders, *, env: Mapping[str, str], steps: Mapping[str, Any]
) -> dict[str, Any]:
    return context.build(
        inputs=context.template_inputs(run.document, run.inputs),
        env=env,
        steps=steps,
        run=run.run_info,
        workflow=run.workflow_info,
    )


def render_env(run: Renders) -> dict[str, str]:
    """The document's ``env``, rendered; a value made from outside values keeps its marks."""
    document = run.document
    base = template_context(run, env={}, steps={})
    rendered: dict[str, str] = {}
    for name, value in document.env.items():
        where = run.where(document.line_of("env"), f"env.{name}")
        rendered[name] = templating.render(
            value, base, where, limits=run.render_limits, keep_marks=True
        )
    return rendered


def condition_holds(
    run: Renders,
    step: Step,
    template_context: Mapping[str, Any],
    status: RunStatus = RunStatus(),  # noqa: B008 - frozen, shared safely
) -> bool:
    """Whether the step's ``if`` holds, its status functions answering for ``status``."""
    assert step.condition is not None
    where = run.where(step.line, f"step '{step.name}' if")
    in_context = {**template_context, **status.functions()}
    return bool(templating.evaluate(step.condition, in_context, where, limits=run.render_limits))


def condition_verdict(run: Renders, step: Step, template_context: Mapping[str, Any]) -> bool | None:
    """The step's ``if`` before the run: true or false whatever the run's status will be
    when the step comes, None when that status decides (``failure()``, ``cancelled()``)."""
    statuses: tuple[RunStatus, ...] = EVERY_STATUS
    if step.condition is None or not templating.status_functions_called(step.condition):
        statuses = (RunStatus(),)
    verdicts = {condition_holds(run, step, template_context, status) for status in statuses}
    return verdicts.pop() if len(verdicts) == 1 else None


def render_body(run: Renders, step: Step, template_context: Mapping[str, Any]) -> str:
    if not step.render:
        return step.body
    where = run.where(step.body_line, f"step '{step.name}'")
    return templating.render(
        step.body,
        template_context,
        where,
        body=True,
        script=script_language(step),
        shown=step.command[0] if step.command else step.language,
        limits=run.render_limits,
    )


def placeholders(document: Document) -> dict[str, templating.Placeholder]:
    return {step.name: templating.Placeholder(f"steps.{step.name}") for step in document.steps}


def problems_before_run(run: Renders, env: Mapping[str, str]) -> list[Diagnostic]:
    """Render every step body as the run will, earlier steps' outputs as placeholders.

    A refusal (outside text that could change a script, a rendering limit) anywhere is a
    problem. So is any template error in a body that depends on no earlier step: rendering
    it later would give the same error, after the steps before it ran.
    """
    found: list[Diagnostic] = []
    template_context_ = template_context(run, env=env, steps=placeholders(run.document))
    for step in run.document.steps:
        if not step.render and step.condition is None:
            continue
        independent = "steps" not in step.body and "steps" not in (step.condition or "")
        try:
            decided = step.condition is not None and "steps" not in step.condition
            if decided and condition_verdict(run, step, template_context_) is False:
                continue
            render_body(run, step, template_context_)
        except TemplateRefused as exc:
            found.append(exc.diagnostic)
        except TemplateError as exc:
            if independent:
                found.append(exc.diagnostic)
    return found


@dataclass(frozen=True)
class _BeforeTheRun:
    """A run not yet created: what is known of it, the rest as placeholders."""

    document: Document
    inputs: Mapping[str, Any]
    run_info: Mapping[str, Any]
    workflow_info: Mapping[str, Any]
    render_limits: templating.Limits
    path: str

    def where(self, line: int, what: str) -> templating.Where:
        return templating.Where(self.path, line, what)


def problems_with_inputs(
    document: Document,
    inputs: Mapping[str, Any],
    *,
    path: str,
    trigger: str,
    limits: templating.Limits,
) -> list[Diagnostic]:
    """``problems_before_run`` for a run that does not exist yet (a run submitted to the queue
    is refused now, not after it was accepted): the run's id, start, actor and the document's
    revision stand in as placeholders; the run checks again with its own values. Problems
    name the document by ``path``, relative to the repository."""
    run_info = {
        "id": templating.Placeholder("run.id"),
        "trigger": trigger,
        "started_at": templating.Placeholder("run.started_at"),
        "actor": templating.Placeholder("run.actor"),
    }
    workflow_info = {
        "id": document.id,
        "title": document.title,
        "owner": document.owner,
        "status": document.status.value,
        "path": path,
        "revision": templating.Placeholder("workflow.revision"),
    }
    run = _BeforeTheRun(document, inputs, run_info, workflow_info, limits, path)
    try:
        env = render_env(run)
    except TemplateError as exc:
        return [exc.diagnostic]
    return problems_before_run(run, env)
