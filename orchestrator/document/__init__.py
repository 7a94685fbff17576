"""Intent documents: parse, validate, and the inputs of a run.

``parse``/``load`` turn a Markdown intent document into a ``Document`` or raise
``DocumentError`` holding every problem found (``path:line:col: message``). ``validate_paths``
checks many documents at once, ``id`` uniqueness included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from orchestrator.errors import Diagnostic, DocumentError
from orchestrator.model import Document

from .build import build
from .inputs import input_environment, load_inputs_file, resolve_inputs
from .schema import schema_path
from .steps import parse_duration, parse_health

__all__ = [
    "discover",
    "input_environment",
    "load",
    "load_inputs_file",
    "parse",
    "parse_duration",
    "parse_health",
    "resolve_inputs",
    "schema_path",
    "validate_paths",
]


def parse(text: str, path: Path) -> Document:
    """Parse ``text`` as the intent document at ``path`` (shown in diagnostics as given)."""
    try:
        return build(text, path)
    except DocumentError:
        raise
    except Exception as exc:  # a parser bug must still come out as a document error
        message = f"internal error while reading this document: {type(exc).__name__}: {exc}"
        raise DocumentError([Diagnostic(str(path), 1, 1, message)]) from exc


def load(path: Path) -> Document:
    """Read and parse the document at ``path``."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            [
                Diagnostic(
                    str(path),
                    1,
                    1,
                    f"not UTF-8 text (byte {exc.start}): save it as UTF-8",
                    code="unreadable",
                )
            ]
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DocumentError(
            [Diagnostic(str(path), 1, 1, f"cannot read: {reason}", code="unreadable")]
        ) from None
    return parse(text, path)


def discover(root: Path, patterns: Sequence[str] = ("intents/**/*.md",)) -> list[Path]:
    """The intent documents under ``root``: files matching ``patterns``, sorted.

    ``README.md`` files (any case) are folder documentation, not intent documents, and are
    skipped. Every other match is returned, so a Markdown file without front matter among the
    intents is reported by validation instead of silently ignored.
    """
    found: set[Path] = set()
    for pattern in patterns:
        for candidate in root.glob(pattern):
            if candidate.is_file() and candidate.name.lower() != "readme.md":
                found.add(candidate)
    return sorted(found)


def validate_paths(paths: Iterable[Path]) -> list[Diagnostic]:
    """Every problem of every document, plus ``id`` clashes between them."""
    problems: list[Diagnostic] = []
    ids: dict[str, Path] = {}
    for path in paths:
        try:
            doc = load(path)
        except DocumentError as exc:
            problems.extend(exc.diagnostics)
            continue
        if doc.id in ids:
            problems.append(
                Diagnostic(
                    str(path),
                    doc.line_of("id"),
                    1,
                    f"id '{doc.id}' is already used by {ids[doc.id]}: ids must be unique",
                    code="duplicate-id",
                )
            )
        else:
            ids[doc.id] = path
    return sorted(problems)
