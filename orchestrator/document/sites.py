"""Where a document's templates are, what they may refer to, and how a problem in one is
reported at the place of the name (its line in the document, its column on that line)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from orchestrator.errors import Diagnostic
from orchestrator.model import InputDecl, Step, StepKind
from orchestrator.templating.uses import NameUse, Segment

SiteKind = Literal["body", "condition", "env", "artifact"]
# A column, or how to find it (looked up only for what is reported).
Column = int | Callable[[], int]
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


class Reporter:
    """Diagnostics about the names one template (``site``) uses."""

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
        return self.find_column(use.line, pattern, last_part=depth > 0)

    def find_column(self, line: int, pattern: str, *, last_part: bool) -> int:
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
