"""Every name a document's templates use, resolved against the context each will have.

When a step runs, its templates see ``inputs`` (the declared, non-secret inputs), ``env``
(the document's env, rendered), ``steps`` (the steps before it: ``state``, ``exit_code``,
``outputs``), ``run`` and ``workflow``; an ``if`` condition also has ``always()``,
``success()``, ``failure()`` and ``cancelled()``. ``env`` values are rendered before the
first step with an empty ``env`` and no ``steps``; artifact fields after the last step, with
every step. A name that cannot be there is an error here, with the line and the closest
name, instead of a Jinja error in the middle of a run; a name that may be missing (an
output a step may not write, an optional input without a default) is a warning.

The places and the reporting are in ``sites``, the rules for ``steps`` in ``step_references``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orchestrator import templating
from orchestrator.errors import Diagnostic
from orchestrator.templating.uses import NameUse, Uses

from .inputs import environment_name
from .sites import MAPPING_METHODS, Context, Site, StepName, step_sites
from .step_references import StepReferences, writes_output
from .suggest import closest

__all__ = ["Context", "Site", "StepName", "check", "step_sites", "writes_output"]

CONTEXT = ("inputs", "env", "steps", "run", "workflow")
RUN_KEYS = ("id", "trigger", "started_at", "actor")
WORKFLOW_KEYS = ("id", "title", "owner", "status", "path", "revision")
IF_FUNCTIONS = ("always", "success", "failure", "cancelled")


def check(path: str, context: Context, sites: Sequence[Site]) -> list[Diagnostic]:
    """Every unknown or misplaced name, filter, test and load in ``sites``."""
    found: list[Diagnostic] = []
    seen: set[tuple[int, str]] = set()
    for site in sites:
        uses = _uses(site)
        checker = _SiteChecker(path, context, site)
        for use in uses.names:
            checker.name(use)
        for name, line in uses.filters:
            checker.filter(name, line)
        for name, line in uses.tests:
            checker.test(name, line)
        for kind, line in uses.loads:
            checker.error(
                line,
                site.col,
                f"{site.label} uses {{% {kind} %}}: a document's templates cannot load other "
                "templates; write the text here",
                code="template",
            )
        for diagnostic in checker.found:
            if (diagnostic.line, diagnostic.message) not in seen:
                seen.add((diagnostic.line, diagnostic.message))
                found.append(diagnostic)
    return found


def _uses(site: Site) -> Uses:
    if site.kind == "condition":
        return templating.expression_uses(site.text)
    return templating.template_uses(site.text, body=site.kind == "body")


class _SiteChecker(StepReferences):
    # Names

    def name(self, use: NameUse) -> None:
        root = use.name
        if root == "inputs":
            self.inputs(use)
        elif root == "env":
            self.env(use)
        elif root == "steps":
            self.steps(use)
        elif root in ("run", "workflow"):
            self.fixed(use, RUN_KEYS if root == "run" else WORKFLOW_KEYS)
        elif root in IF_FUNCTIONS and self.site.kind == "condition":
            return
        elif root not in templating.global_names():
            self.unknown_root(use)

    def unknown_root(self, use: NameUse) -> None:
        root, site = use.name, self.site
        col = self.at(use, 0)
        roots = ", ".join(CONTEXT)
        if site.kind == "condition":
            roots += ", always(), success(), failure(), cancelled()"
        if root in IF_FUNCTIONS:
            message = (
                f"{site.label} uses {root}(), which only if conditions have: write it in the "
                "step's if attribute"
            )
            self.error(use.line, col, message, code="unknown-name")
            return
        if use.set_later:
            message = (
                f"{site.label} uses '{root}' before the template sets it: set or define it "
                "before its first use"
            )
            self.error(use.line, col, message, code="unknown-name")
            return
        hint = self.root_hint(root)
        message = f"{site.label} uses unknown name '{root}' (templates see {roots})"
        if use.guarded:
            message += ", so it is never defined and only its default or test decides"
            self.warning(use.line, col, message + (f": did you mean '{hint}'?" if hint else ""))
            return
        if hint:
            message += f": did you mean '{hint}'?"
        elif site.shell:
            message += f": for the shell variable, write ${root}"
        elif site.file:
            message += ": when the file's own text holds {{ }}, add render=false to the step"
        self.error(use.line, col, message, code="unknown-name")

    def root_hint(self, root: str) -> str | None:
        context = self.context
        if root in context.inputs:
            return f"inputs.{root}"
        if root in context.env:
            return f"env.{root}"
        if any(step.name == root for step in context.steps):
            return f"steps.{root}"
        known = [*CONTEXT, *templating.global_names()]
        if self.site.kind == "condition":
            known += IF_FUNCTIONS
        found = closest(root, known)
        return f"{found}()" if found in IF_FUNCTIONS else found

    def inputs(self, use: NameUse) -> None:
        if not use.path:
            return
        segment = use.path[0]
        name = segment.name
        declared = self.context.inputs
        if name in self.context.broken_inputs:
            return
        decl = declared.get(name)
        col = self.at(use, 1)
        if self.shadowed(use, segment, decl is not None, col):
            return
        if decl is None:
            known = ", ".join(declared) or "no inputs"
            hint = closest(name, declared)
            dashed = [other for other in declared if other.startswith(f"{name}-")]
            message = f"{self.site.label} uses undeclared input '{name}' (declared: {known})"
            if dashed and not use.guarded:
                message += (
                    f": inputs.{dashed[0]} reads as inputs.{name} minus "
                    f"{dashed[0].removeprefix(name + '-')}; write inputs['{dashed[0]}']"
                )
                self.error(use.line, col, message, code="unknown-name")
                return
            if use.guarded:
                message += ": it is never there, so only its default or test decides"
                self.warning(use.line, col, message + (f"; did you mean '{hint}'?" if hint else ""))
                return
            message += f": did you mean '{hint}'?" if hint else ": declare it under inputs"
            self.error(use.line, col, message, code="unknown-name")
        elif decl.secret:
            self.error(
                use.line,
                col,
                f"{self.site.label} uses secret input '{name}' in a template: secret inputs "
                f"reach steps only as ${environment_name(name)}; read that variable instead",
                code="secret-input",
            )
        elif not use.guarded and not decl.required and not decl.has_default:
            if name in self.optional_warned:
                return
            self.optional_warned.add(name)
            self.warning(
                use.line,
                col,
                f"{self.site.label} uses input '{name}', which is optional and has no "
                "default: a run that does not give it fails here; give it a default, or "
                f"write inputs.{name} | default('')",
            )

    def env(self, use: NameUse) -> None:
        site = self.site
        if site.kind == "env":
            if not use.path:
                return
            name = use.path[0].name
            message = (
                f"{site.label} uses env.{name}, but env values are rendered before env is "
                f"set: repeat the value of {name} here"
            )
            self.error(use.line, self.at(use, 1), message, code="step-order")
            return
        if not use.path:
            return
        segment = use.path[0]
        name = segment.name
        col = self.at(use, 1)
        names = self.context.env
        if self.shadowed(use, segment, name in names, col) or name in names:
            return
        sets = f"env sets: {', '.join(names)}" if names else "the document has no env"
        message = f"{site.label} uses env.{name}, which env does not set ({sets})"
        hint = closest(name, names)
        if use.guarded:
            self.warning(use.line, col, message + ", so only its default or test decides")
            return
        if hint:
            message += f": did you mean '{hint}'?"
        else:
            message += ": add it under env"
            if site.shell:
                message += f", or read the run's environment variable as ${name}"
        self.error(use.line, col, message, code="unknown-name")

    def fixed(self, use: NameUse, keys: Sequence[str]) -> None:
        if not use.path:
            return
        segment = use.path[0]
        if segment.name in keys or (not segment.item and segment.name in MAPPING_METHODS):
            return
        hint = closest(segment.name, keys)
        message = (
            f"{self.site.label} uses {use.name}.{segment.name}: {use.name} has "
            f"{', '.join(keys)}" + (f": did you mean '{hint}'?" if hint else "")
        )
        col = self.at(use, 1)
        if use.guarded:
            self.warning(use.line, col, message)
        else:
            self.error(use.line, col, message, code="unknown-name")

    # Filters and tests

    def filter(self, name: str, line: int) -> None:
        if templating.is_filter(name):
            return
        hint = closest(name, templating.filter_names())
        col = self.find_column(line, r"\|\s*" + re.escape(name) + r"\b", last_part=False)
        message = f"{self.site.label} uses unknown filter '{name}'" + (
            f": did you mean '{hint}'?" if hint else " (Jinja's filters, sh and py exist)"
        )
        self.error(line, col, message, code="unknown-filter")

    def test(self, name: str, line: int) -> None:
        if name in templating.test_names():
            return
        hint = closest(name, templating.test_names())
        col = self.find_column(
            line, r"\bis\s+(?:not\s+)?" + re.escape(name) + r"\b", last_part=False
        )
        message = f"{self.site.label} uses unknown test '{name}'" + (
            f": did you mean '{hint}'?" if hint else " (Jinja's tests exist)"
        )
        self.error(line, col, message, code="unknown-filter")
