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
     ├── TraceError          the git trace cannot be read or written
     └── PublishError        an artifact could not be packaged or published
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

Severity = Literal["error", "warning"]

# Every diagnostic code orch gives, with what it means: ``docs/diagnostics.md`` lists them
# with an example and the fix, and ``orch validate --json`` puts the code in each object.
# Codes are stable identifiers: tools match on them, so a code is never renamed or reused.
CODES: dict[str, str] = {
    "invalid": "the document is invalid in a way no more specific code describes yet",
    "unreadable": "the file cannot be read, is not UTF-8, or is not an intent document",
    "yaml": "the front matter is not valid YAML",
    "schema": "a front matter value does not match the intent schema (type, format, range)",
    "unknown-key": "a front matter key the schema does not know (often a typo)",
    "step-attribute": "a step's attributes in the fence's braces are wrong or unknown",
    "template": "a Jinja template does not parse or cannot be rendered",
    "duplicate-id": "two intent documents share one id",
    "input": "a run-time input is unknown, missing or does not match its declaration",
    "no-steps": "the document has no step: nothing would run",
    "step-fence": "a code block looks like a step but is not written as one",
    "health": "a health check body is not what a health step reads",
    "unknown-name": "a template uses a name that its context does not have",
    "unknown-filter": "a template uses a filter or a test that does not exist",
    "step-order": "a template uses the results of its own step or of a later one",
    "secret-input": "a template uses a secret input, which templates never see",
    "maybe-undefined": "a template uses a name that may not exist when it is rendered",
    "jinja-comment": "a step body holds '{#', which is not a comment there",
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem at one place in a file; prints as ``path:line:col: message`` (warnings as
    ``path:line:col: warning: message``). ``code`` is one of ``CODES``."""

    path: str
    line: int
    col: int
    message: str
    code: str = field(default="invalid", kw_only=True)
    severity: Severity = field(default="error", kw_only=True)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"diagnostic code {self.code!r} is not in errors.CODES")

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.col}: {label}{self.message}"

    def to_json(self) -> dict[str, str | int]:
        """The object ``orch validate --json`` prints for it (see docs/cli.md)."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


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

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        super().__init__(
            replace(d, code="input") if d.code == "invalid" else d for d in diagnostics
        )


class TemplateError(OrchError):
    """A template could not be rendered."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


class TemplateRefused(TemplateError):
    """A template was refused: a value from outside the document could change a script's
    syntax, or rendering went beyond a limit (time, size)."""


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
