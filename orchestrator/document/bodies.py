"""Step bodies read as their interpreter will read them: ``{#`` in a shell script.

Jinja comments are off in step bodies (``${#ARR[@]}`` is ordinary shell), so ``{# TODO #}``
reaches the shell, which runs ``{#`` as a command (``{#: command not found``) or prints it
as a word. A writer who wrote it meant a comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from orchestrator.errors import Diagnostic
from orchestrator.model import Step, StepKind

SHELLS = ("sh", "bash", "zsh", "shell")
# ``{#`` starting a shell word: at the start of a line or after a blank; ``${#`` is the
# shell's own length expansion.
_JINJA_COMMENT = re.compile(r"(?:^|(?<=[ \t]))\{#")


def problems(steps: Sequence[Step], path: str) -> list[Diagnostic]:
    return [d for step in steps for d in _comment_warnings(step, path)]


def _comment_warnings(step: Step, path: str) -> Iterator[Diagnostic]:
    if step.kind is not StepKind.SCRIPT or step.interpreter is not None:
        return
    if step.language not in SHELLS or "{#" not in step.body:
        return
    for offset, line in enumerate(step.body.split("\n")):
        match = next(
            (found for found in _JINJA_COMMENT.finditer(line) if not _quoted(line, found.start())),
            None,
        )
        if match is None:
            continue
        comment = line[match.start() :].strip()
        inner = comment.removeprefix("{#").removesuffix("#}").strip() if "#}" in comment else ""
        fix = f"# {inner}" if inner else "# ..."
        yield Diagnostic(
            path,
            step.body_line + offset,
            match.start() + 1,
            f"step '{step.name}': '{{#' is not a comment in a step body (Jinja comments are "
            f"off there), so {step.language} reads it as a command or a word: write a shell "
            f"comment, {fix}, or {{{{ '{{#' }}}} to write '{{#' itself",
            code="jinja-comment",
            severity="warning",
        )


def _quoted(line: str, position: int) -> bool:
    """Whether ``position`` is inside quotes on its line (there ``{#`` is only text)."""
    quote = ""
    escaped = False
    for char in line[:position]:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if char == quote else quote
        elif char in ("'", '"'):
            quote = char
    return bool(quote)
