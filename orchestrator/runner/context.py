"""The template context of a run: what ``{{ ... }}`` can see.

Secret inputs never enter it; a step reads them from ``$ORCH_INPUT_<NAME>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


def build(
    *,
    inputs: Mapping[str, Any],
    env: Mapping[str, str],
    steps: Mapping[str, StepView | Placeholder],
    run: Mapping[str, Any],
    workflow: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "inputs": dict(inputs),
        "env": dict(env),
        "steps": dict(steps),
        "run": dict(run),
        "workflow": dict(workflow),
    }
