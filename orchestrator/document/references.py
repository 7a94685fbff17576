"""Every name a document's templates use, resolved against the context each will have.

When a step runs, its templates see ``inputs`` (the declared, non-secret inputs), ``env``
(the document's env, rendered), ``steps`` (the steps before it: ``state``, ``exit_code``,
``outputs``), ``run`` and ``workflow``; an ``if`` condition also has ``always()``,
``success()``, ``failure()`` and ``cancelled()``. ``env`` values are rendered before the
first step with an empty ``env`` and no ``steps``; artifact fields after the last step, with
every step. A name that cannot be there is an error here, with the line and the closest
name, instead of a Jinja error in the middle of a run; a name that may be missing (an
output a step may not write, an optional input without a default) is a warning.

Whether a step writes an output is read from its body, a heuristic (``writes_output``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from orchestrator import templating
from orchestrator.errors import Diagnostic
from orchestrator.model import InputDecl, Step, StepKind
from orchestrator.templating import NameUse, Segment, Uses

from .inputs import environment_name
from .suggest import closest

SiteKind = Literal["body", "condition", "env", "artifact"]
# A column, or how to find it (looked up only for what is reported).
Column = int | Callable[[], int]

CONTEXT = ("inputs", "env", "steps", "run", "workflow")
RUN_KEYS = ("id", "trigger", "started_at", "actor")
WORKFLOW_KEYS = ("id", "title", "owner", "status", "path", "revision")
STEP_KEYS = ("state", "exit_code", "outputs")
IF_FUNCTIONS = ("always", "success", "failure", "cancelled")
# Methods of the mappings in the context: ``inputs.get('x')``, ``env.items()``.
MAPPING_METHODS = frozenset({"get", "items", "keys", "values", "copy"})
SHELLS = ("sh", "bash", "zsh", "shell")


@dataclass(frozen=True)
class Site:
    """One template of the document and where it is."""

    label: str  # "step 'build'", "step 'build' if", "env AUTH", "artifact name"
    text: str
    line: int  # file line of the template's first line
    col: int  # column to report when the name cannot be found on its line
    kind: SiteKind
    step: int | None = None  # index of its step among the document's steps
    shell: bool = False  # a shell script's body
    file: bool = False  # a file step's body, which may hold braces of its own


@dataclass(frozen=True)
class StepName:
    """A step as references see it: also the steps that are invalid (``step`` None)."""

    name: str
    line: int
    step: Step | None


@dataclass
class Context:
    """What the document declares, for every template to be checked against."""

    inputs: Mapping[str, InputDecl]
    env: Sequence[str]
    steps: Sequence[StepName]
    # Inputs whose declarations are invalid (reported already): not checked further.
    broken_inputs: frozenset[str] = frozenset()
    lines: Sequence[str] = field(default_factory=list)


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


class _SiteChecker:
    def __init__(self, path: str, context: Context, site: Site) -> None:
        self.path = path
        self.context = context
        self.site = site
        self.found: list[Diagnostic] = []
        # Optional inputs warned about in this template: once each is enough.
        self.optional_warned: set[str] = set()

    # Reporting

    def error(self, line: int, col: Column, message: str, *, code: str) -> None:
        where = col if isinstance(col, int) else col()
        self.found.append(
            Diagnostic(self.path, self.site.line + line - 1, where, message, code=code)
        )

    def warning(self, line: int, col: Column, message: str) -> None:
        where = col if isinstance(col, int) else col()
        self.found.append(
            Diagnostic(
                self.path,
                self.site.line + line - 1,
                where,
                message,
                code="maybe-undefined",
                severity="warning",
            )
        )

    def at(self, use: NameUse, depth: int) -> Callable[[], int]:
        """The column of ``use`` to its ``depth``-th segment, looked up only when reported."""
        return functools.partial(self.column, use, depth)

    def column(self, use: NameUse, depth: int) -> int:
        """Column of ``use``'s name and its first ``depth`` segments on the file line."""
        pattern = r"(?<![\w.])" + re.escape(use.name)
        for segment in use.path[:depth]:
            name = re.escape(segment.name)
            pattern += rf"""\s*(?:\.\s*{name}\b|\[\s*(?:'{name}'|"{name}"|{name})\s*\])"""
        return self._find(use.line, pattern, last_part=depth > 0)

    def _find(self, line: int, pattern: str, *, last_part: bool) -> int:
        index = self.site.line + line - 2
        lines = self.context.lines
        if 0 <= index < len(lines):
            match = re.search(pattern, lines[index])
            if match is not None:
                if not last_part:
                    return match.start() + 1
                text = match.group()
                cut = max(text.rfind("."), text.rfind("["))
                start = match.start() + cut + 1
                while start < match.end() and lines[index][start] in " \t[\"'":
                    start += 1
                return start + 1
        return self.site.col

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

    def shadowed(self, use: NameUse, segment: Segment, is_key: bool, col: Column) -> bool:
        """``inputs.items``: the mapping's method, whatever the document declares."""
        if segment.item or segment.name not in MAPPING_METHODS:
            return False
        if is_key:
            root, name = use.name, segment.name
            self.warning(
                use.line,
                col,
                f"{self.site.label} uses {root}.{name}, which is the mapping's own {name}() "
                f"method, not the value '{name}': write {root}['{name}']",
            )
        return True

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
        col = self._find(line, r"\|\s*" + re.escape(name) + r"\b", last_part=False)
        message = f"{self.site.label} uses unknown filter '{name}'" + (
            f": did you mean '{hint}'?" if hint else " (Jinja's filters, sh and py exist)"
        )
        self.error(line, col, message, code="unknown-filter")

    def test(self, name: str, line: int) -> None:
        if name in templating.test_names():
            return
        hint = closest(name, templating.test_names())
        col = self._find(line, r"\bis\s+(?:not\s+)?" + re.escape(name) + r"\b", last_part=False)
        message = f"{self.site.label} uses unknown test '{name}'" + (
            f": did you mean '{hint}'?" if hint else " (Jinja's tests exist)"
        )
        self.error(line, col, message, code="unknown-filter")


def step_sites(steps: Sequence[Step], every: Sequence[StepName]) -> Iterator[Site]:
    """The templates of each valid step: its ``if`` and its body (unless ``render=false``)."""
    index_of = {step.name: index for index, step in enumerate(every)}
    for step in steps:
        index = index_of.get(step.name)
        if step.condition is not None:
            yield Site(f"step '{step.name}' if", step.condition, step.line, 1, "condition", index)
        if step.render:
            shell = step.kind is StepKind.SCRIPT and step.interpreter is None
            yield Site(
                f"step '{step.name}'",
                step.body,
                step.body_line,
                1,
                "body",
                index,
                shell=shell and step.language in SHELLS,
                file=step.kind is StepKind.FILE,
            )
