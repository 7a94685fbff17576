"""The one error hierarchy of orch.

Everything the core raises for an expected problem is an ``OrchError``; only ``cli`` turns
these into messages and exit codes. A library's own exceptions are translated into these where
that library is used::

    OrchError
     ├── UsageError          bad command line, configuration or environment
     ├── DocumentError       a document (or its inputs) is invalid: carries every diagnostic
     │    └── InputError     run-time inputs do not match the declarations
     ├── TemplateError       a template failed to render (names the document line)
     │    └── TemplateRefused  outside text could change a script, or a render limit was hit
     ├── StepError           a step could not be prepared or started
     ├── TraceError          the git trace cannot be read or written
     └── PublishError        an artifact could not be packaged or published
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem at one place in a file; prints as ``path:line:col: message``."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class OrchError(Exception):
    """Root of every error orch raises on purpose."""


class UsageError(OrchError):
    """The command line, the configuration or the environment is wrong."""


class DocumentError(OrchError):
    """A document is invalid. Holds every problem found, not just the first."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class InputError(DocumentError):
    """Run-time inputs do not match the document's declarations."""


class TemplateError(OrchError):
    """A template could not be rendered."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


class TemplateRefused(TemplateError):
    """A template was refused: a value from outside the document could change a script's
    syntax, or rendering went beyond a limit (time, size)."""


class StepError(OrchError):
    """A step could not be prepared or started."""


class TraceError(OrchError):
    """The git trace cannot be read or written."""


class PublishError(OrchError):
    """An artifact could not be packaged or published."""


def describe_os_error(exc: OSError, doing: str, where: object | None = None) -> str:
    """An operating-system error as one sentence: ``no space left on device while writing the
    log of step 'build' (/repo/.orch/runs/...)``. ``where`` defaults to the error's file."""
    reason = " ".join(str(exc.strerror or exc).split()) or type(exc).__name__
    reason = reason[:1].lower() + reason[1:]
    place = where if where is not None else exc.filename
    return f"{reason} while {doing}" + (f" ({place})" if place else "")
