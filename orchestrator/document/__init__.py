"""Intent documents: parse, validate, and the inputs of a run.

``parse``/``load`` turn a Markdown intent document into a ``Document`` or raise
``DocumentError`` holding every problem found (``path:line:col: message``). ``validate_paths``
checks many documents at once, ``id`` uniqueness included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from orchestrator.durations import parse_duration
from orchestrator.errors import Diagnostic, DocumentError, UsageError
from orchestrator.model import Document

from . import disk_cache
from .inputs import (
    InputLimits,
    InputTooLarge,
    input_environment,
    resolve_inputs,
    secret_texts,
)
from .inputs_file import load_inputs_file
from .schema import schema_path

__all__ = [
    "InputLimits",
    "InputTooLarge",
    "discover",
    "input_environment",
    "load",
    "load_inputs_file",
    "parse",
    "parse_cached",
    "parse_duration",
    "resolve_inputs",
    "schema_path",
    "secret_texts",
    "validate_paths",
]


def parse(text: str, path: Path) -> Document:
    """Parse ``text`` as the intent document at ``path`` (shown in diagnostics as given)."""
    # Imported here: a document read before comes from the disk cache (see ``load``), and
    # then neither the parsers nor the checks are loaded at all.
    from .build import build

    try:
        return build(text, path)
    except DocumentError:
        raise
    except Exception as exc:  # a parser bug must still come out as a document error
        message = f"internal error while reading this document: {type(exc).__name__}: {exc}"
        raise DocumentError([Diagnostic(str(path), 1, 1, message)]) from exc


def load(path: Path, *, keep: bool = True) -> Document:
    """Read and parse the document at ``path``, or take it from the disk cache when this
    text at this path was parsed before (:mod:`orchestrator.document.disk_cache`).

    ``keep``: put what was parsed in the cache. ``validate_paths`` does not: writing an
    entry costs about a third of what reading one saves, and a check of every document of a
    repository would pay it for documents that may never run."""
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
    return parse_cached(text, path, keep=keep)


def parse_cached(text: str, path: Path, *, keep: bool = True) -> Document:
    """``parse``, through the disk cache: the document parsed before from exactly this text
    shown as ``path`` (:mod:`orchestrator.document.disk_cache`), else parsed (and kept, with
    ``keep``)."""
    known = disk_cache.recall(text, path)
    if known is not None:
        return known
    doc = parse(text, path)
    if keep:
        disk_cache.keep(text, path, doc)
    return doc


def discover(root: Path, patterns: Sequence[str] = ("intents/**/*.md",)) -> list[Path]:
    """The intent documents under ``root``: files whose path relative to ``root`` the
    ``patterns`` select (orch's glob rules, ``!`` exclusions read in order), sorted.

    The tree is walked once, from the literal leading folders of the patterns, never into
    ``.git/`` or ``.orch/`` nor through symbolic links to folders. ``README.md`` files (any
    case) are folder documentation, not intent documents, and are skipped. Every other match
    is returned, so a Markdown file without front matter among the intents is reported by
    validation instead of silently ignored.
    """
    # Imported here: running one document needs no glob.
    from orchestrator.globs import GlobError, path_filter, walk

    try:
        selection = path_filter(tuple(patterns))
    except GlobError as exc:
        raise UsageError(f"setting 'intents' {exc}") from None
    found: set[Path] = set()
    for folder in selection.folders():
        for relative, is_folder in walk(root, folder):
            if is_folder or relative.rsplit("/", 1)[-1].lower() == "readme.md":
                continue
            if selection.selects(relative) and (root / relative).is_file():
                found.add(root / relative)
    return sorted(found)


def validate_paths(paths: Iterable[Path]) -> list[Diagnostic]:
    """Every problem of every document, plus ``id`` clashes between them."""
    problems: list[Diagnostic] = []
    ids: dict[str, Path] = {}
    for path in paths:
        try:
            doc = load(path, keep=False)
        except DocumentError as exc:
            problems.extend(exc.diagnostics)
            continue
        problems.extend(doc.warnings)
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
