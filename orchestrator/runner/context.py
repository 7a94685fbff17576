"""The template context of a run: what ``{{ ... }}`` can see.

Secret inputs never enter it; a step reads them from ``$ORCH_INPUT_<NAME>``. Every value from
outside the document (inputs, earlier steps' outputs, the run's actor) enters it marked, so
that a script step's body can be checked for outside text that could change its syntax. An
input declared with an ``enum`` is not outside text: its value is one the document wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator import templating
from orchestrator.model import Document
from orchestrator.templating import Placeholder


@dataclass(frozen=True)
class StepView:
    """What later templates see of a step that already ran."""

    state: str
    exit_code: int | None
    outputs: Mapping[str, str] = field(default_factory=dict)


def public_inputs(document: Document, inputs: Mapping[str, Any]) -> dict[str, Any]:
    secret = {decl.name for decl in document.inputs if decl.secret}
    return {name: value for name, value in inputs.items() if name not in secret}


def template_inputs(document: Document, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The public inputs, marked as outside text unless an ``enum`` restricts them."""
    result = {}
    for name, value in public_inputs(document, inputs).items():
        decl = document.input(name)
        trusted = decl is not None and "enum" in decl.schema
        result[name] = value if trusted else templating.outside(value, f"inputs.{name}")
    return result


def marked_view(name: str, view: StepView) -> StepView:
    # The step chose the keys as well as the values.
    outputs = {
        templating.outside(key, f"steps.{name}.outputs"): templating.outside(
            value, f"steps.{name}.outputs.{key}"
        )
        for key, value in view.outputs.items()
    }
    return StepView(state=view.state, exit_code=view.exit_code, outputs=outputs)


def build(
    *,
    inputs: Mapping[str, Any],
    env: Mapping[str, str],
    steps: Mapping[str, StepView | Placeholder],
    run: Mapping[str, Any],
    workflow: Mapping[str, Any],
) -> dict[str, Any]:
    """The context; ``inputs`` already marked (``template_inputs``), ``env`` as rendered."""
    run_info = dict(run)
    if isinstance(run_info.get("actor"), str):
        run_info["actor"] = templating.outside(run_info["actor"], "run.actor")
    return {
        "inputs": dict(inputs),
        "env": {name: templating.retag(value, f"env.{name}") for name, value in env.items()},
        "steps": {
            name: marked_view(name, view) if isinstance(view, StepView) else view
            for name, view in steps.items()
        },
        "run": run_info,
        "workflow": dict(workflow),
    }
