"""``steps.NAME...`` in templates: only the steps before this one, their ``state``,
``exit_code`` and ``outputs``; outputs only of script steps, and only those a step visibly
writes without a warning.

Whether a step writes an output is read from its body, a heuristic (``writes_output``):
``$ORCH_OUTPUT`` is named and ``key=`` (or ``key<<DELIMITER``) starts a quoted string, an
``echo``/``printf`` argument, or a line of a here-document sent there.
"""

from __future__ import annotations

import re

from orchestrator.model import Step, StepKind
from orchestrator.templating.uses import NameUse

from .sites import MAPPING_METHODS, Column, Reporter, StepName
from .suggest import closest

STEP_KEYS = ("state", "exit_code", "outputs")
_ECHOED = r"""(?:["']|\becho[ \t]+(?:-[a-zA-Z]+[ \t]+)*|\bprintf[ \t]+)"""
_HEREDOC = re.compile(r"<<-?[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def writes_output(step: Step, key: str) -> bool:
    """Whether ``step``'s body visibly writes output ``key``: it names ``ORCH_OUTPUT`` and
    writes ``key=`` (or ``key<<DELIMITER``) at the start of a quoted string, as an ``echo`` or
    ``printf`` argument, or at the start of a line of a here-document sent there."""
    body = step.body
    if "ORCH_OUTPUT" not in body:
        return False
    name = re.escape(key)
    if re.search(rf"{_ECHOED}{name}(?:=|<<)", body):
        return True
    lines = body.split("\n")
    for index, line in enumerate(lines):
        heredoc = _HEREDOC.search(line)
        if heredoc is None or "ORCH_OUTPUT" not in line:
            continue
        for inside in lines[index + 1 :]:
            if inside.strip() == heredoc.group(2):
                break
            if re.match(rf"[ \t]*{name}(?:=|<<)", inside):
                return True
    return False


class StepReferences(Reporter):
    """The rules for ``steps``."""

    def steps(self, use: NameUse) -> None:
        site = self.site
        if site.kind == "env":
            if use.path:
                message = (
                    f"{site.label} uses steps.{use.path[0].name}, but env values are rendered "
                    "before any step runs: use it in a step's body or if instead"
                )
                self.error(use.line, self.at(use, 1), message, code="step-order")
            return
        if not use.path:
            return
        segment = use.path[0]
        name = segment.name
        every = self.context.steps
        by_name = {step.name: (index, step) for index, step in enumerate(every)}
        col = self.at(use, 1)
        if self.shadowed(use, segment, name in by_name, col):
            return
        if name not in by_name:
            self.unknown_step(use, name, col)
            return
        index, target = by_name[name]
        if site.step is not None and index >= site.step:
            own = every[site.step].name
            if index == site.step:
                message = (
                    f"{site.label} uses steps.{name}, its own step: a step's state and outputs "
                    "exist only after it ran; use them in a later step"
                )
            else:
                message = (
                    f"{site.label} uses steps.{name}, which runs after it (line {target.line}): "
                    f"a step sees only the steps before it; move '{name}' before '{own}'"
                )
            if use.guarded:
                self.warning(use.line, col, message)
            else:
                self.error(use.line, col, message, code="step-order")
            return
        self.step_attribute(use, target)

    def visible_steps(self) -> list[str]:
        every = [step.name for step in self.context.steps]
        return every if self.site.step is None else every[: self.site.step]

    def unknown_step(self, use: NameUse, name: str, col: Column) -> None:
        visible = self.visible_steps()
        hint = closest(name, visible) or closest(name, [s.name for s in self.context.steps])
        message = f"{self.site.label} uses steps.{name}, but there is no step '{name}'"
        if hint and hint not in visible:
            own = self.site.step is not None and self.context.steps[self.site.step].name == hint
            why = "that is this step itself" if own else "it runs after this step"
            message += f": did you mean '{hint}'? ({why}: a step sees only the steps before it)"
        elif hint:
            message += f": did you mean '{hint}'?"
        elif self.site.step is None:
            message += f" (steps: {', '.join(visible) or 'none'})"
        else:
            message += f" (steps before it: {', '.join(visible) or 'none'})"
        if use.guarded:
            self.warning(use.line, col, message)
        else:
            self.error(use.line, col, message, code="unknown-name")

    def step_attribute(self, use: NameUse, target: StepName) -> None:
        if len(use.path) < 2:
            return
        attribute = use.path[1].name
        name = target.name
        col = self.at(use, 2)
        if attribute not in STEP_KEYS:
            hint = closest(attribute, STEP_KEYS)
            message = (
                f"{self.site.label} uses steps.{name}.{attribute}: a step has state, exit_code "
                "and outputs" + (f": did you mean '{hint}'?" if hint else "")
            )
            self.error(use.line, col, message, code="unknown-name")
            return
        if attribute != "outputs" or len(use.path) < 3 or target.step is None:
            return
        key = use.path[2].name
        if not use.path[2].item and key in MAPPING_METHODS:
            return
        step = target.step
        col = self.at(use, 3)
        shown = f"steps.{name}.outputs.{key}"
        if step.kind is not StepKind.SCRIPT:
            message = (
                f"{self.site.label} uses {shown}, but '{name}' is a {step.kind.value} step: "
                "only script steps write outputs (to $ORCH_OUTPUT)"
            )
            if use.guarded:
                self.warning(use.line, col, message)
            else:
                self.error(use.line, col, message, code="unknown-name")
            return
        if use.guarded:
            return
        if step.condition is not None:
            self.warning(
                use.line,
                col,
                f"{self.site.label} uses {shown}, but '{name}' runs only when its if holds: "
                f"write {shown} | default('') for the runs that skip it",
            )
        elif not writes_output(step, key):
            self.warning(
                use.line,
                col,
                f"{self.site.label} uses {shown}, known only when '{name}' runs: make sure it "
                f"writes {key}=... to $ORCH_OUTPUT",
            )
