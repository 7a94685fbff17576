"""A script's errors name the document and its line, not the temporary file orch ran.

A step's body runs from a private file (``/tmp/orch-run-x/build.bash``); interpreters name
that file in their errors (bash ``FILE: line 3:``, sh ``FILE: 3:``, zsh and most others
``FILE:3:``, Python ``File "FILE", line 3``, Perl ``at FILE line 3``). Each line of output is
rewritten to name the document instead, at the document's line: the body's first line plus
the script's line minus one. When rendering changed the body's number of lines (a template
loop, say), the script's lines are not the document's: the place is then "line N of the
rendered step 'NAME'" (the rendered body is in the run record). The file named alone, with
no line, becomes the document and the step.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

# What follows the file's name before a line number, in the interpreters' own formats.
_BEFORE_LINE = r"(?:: line |\", line | line |:(?=\d)|: (?=\d+:))"


@dataclass(frozen=True)
class ScriptPlaces:
    """Rewrites output naming ``script`` (the body's temporary file) to name ``document``."""

    script: str
    document: str
    step: str
    first_line: int  # the document line of the body's first line
    same_lines: bool  # rendering kept the body's number of lines

    @functools.cached_property
    def _names(self) -> tuple[str, ...]:
        """The script's path as orch gave it, and with symbolic links resolved."""
        return tuple(sorted({self.script, os.path.realpath(self.script)}, key=len, reverse=True))

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        alternatives = "|".join(re.escape(name) for name in self._names)
        return re.compile(rf"(?:{alternatives})(?:(?P<before>{_BEFORE_LINE})(?P<line>\d+))?")

    def line(self, text: str) -> str:
        """One line of output (or several), each place of the script named in the document."""
        if not any(name in text for name in self._names):
            return text
        return self._pattern.sub(self._place, text)

    def _place(self, match: re.Match[str]) -> str:
        number, before = match.group("line"), match.group("before")
        if number is None:
            return f"{self.document} (step '{self.step}')"
        line = int(number)
        if self.same_lines:
            return f"{self.document}{before}{self.first_line + line - 1}"
        if "line" not in before:  # ``FILE: 3:``, ``FILE:3:``: say which line it is
            before = ", line "
        return f"{self.document}{before}{line} of the rendered step '{self.step}'"

    def rewritten(self, hear: Callable[[str], None]) -> Callable[[str], None]:
        """``hear`` hearing the output rewritten: a line at a time (the live display), or
        pieces of whole lines (the live log)."""

        def rewrite(text: str) -> None:
            hear(self.line(text))

        return rewrite


def places_for(
    script: str, document: str, step: str, first_line: int, written: str, rendered: str
) -> ScriptPlaces:
    """The places of a step whose ``written`` body rendered as ``rendered``."""
    same = written.count("\n") == rendered.count("\n") and (
        written.endswith("\n") == rendered.endswith("\n")
    )
    return ScriptPlaces(script, document, step, first_line, same)
