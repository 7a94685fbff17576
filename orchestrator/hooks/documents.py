"""Intent documents as git holds them: in a commit (what post-commit runs) and in the index
being committed (what pre-commit checks), never as the working copy has them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import document
from orchestrator.errors import Diagnostic, DocumentError
from orchestrator.hooks import repository
from orchestrator.hooks.select import is_intent_path
from orchestrator.model import Document


@dataclass(frozen=True)
class Parsed:
    """Documents that parsed (by repository-relative path) and the problems of the others."""

    documents: dict[str, Document] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)


def parse_blobs(paths: Mapping[str, str], contents: Mapping[str, bytes]) -> Parsed:
    """Parse each ``path -> blob id`` whose content is in ``contents``."""
    parsed = Parsed()
    for path in sorted(paths):
        data = contents.get(paths[path])
        if data is None:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"not UTF-8 text (byte {exc.start}): save it as UTF-8"
            parsed.problems.append(Diagnostic(path, 1, 1, message))
            continue
        try:
            # Cached: the document a hook checked is the one ``orch apply`` then runs.
            parsed.documents[path] = document.parse_cached(text, Path(path))
        except DocumentError as exc:
            parsed.problems.extend(exc.diagnostics)
    return parsed


def documents_at(root: Path, commit: str, patterns: Sequence[str]) -> Parsed:
    """The intent documents of ``commit``, parsed from its tree."""
    blobs = {
        path: blob
        for path, blob in repository.tree_blobs(root, commit).items()
        if is_intent_path(path, patterns)
    }
    return parse_blobs(blobs, repository.read_blobs(root, blobs.values()))


def check_staged(
    root: Path,
    patterns: Sequence[str],
    environ: Mapping[str, str],
    paths: Sequence[str] | None = None,
) -> list[Diagnostic]:
    """Every problem of the intent documents the commit being made adds or changes, as staged;
    ``id`` clashes are checked against every intent document of the index.

    ``paths`` (relative to ``root``): check these instead, as the index holds them; the
    pre-commit framework names the files it checks (every file, for ``pre-commit run
    --all-files``)."""
    index = repository.index_file(environ, root)
    named = repository.staged_paths(root, index) if paths is None else _relative(paths)
    staged = {p for p in named if is_intent_path(p, patterns)}
    if not staged:
        return []
    entries = {
        path: blob
        for path, blob in repository.index_entries(root, index).items()
        if is_intent_path(path, patterns)
    }
    parsed = parse_blobs(entries, repository.read_blobs(root, entries.values()))
    problems = [p for p in parsed.problems if p.path in staged]
    owners: dict[str, list[str]] = {}
    for path, doc in parsed.documents.items():
        owners.setdefault(doc.id, []).append(path)
    for path in sorted(staged & parsed.documents.keys()):
        doc = parsed.documents[path]
        problems.extend(doc.warnings)
        others = [other for other in owners[doc.id] if other != path]
        if others:
            message = f"id '{doc.id}' is already used by {others[0]}: ids must be unique"
            problems.append(Diagnostic(path, doc.line_of("id"), 1, message, code="duplicate-id"))
    return sorted(problems)


def _relative(paths: Sequence[str]) -> list[str]:
    return [Path(path).as_posix().removeprefix("./") for path in paths]
