"""Which documents a change runs: the selection itself, as pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from orchestrator.errors import UsageError
from orchestrator.globs import GlobError, path_filter
from orchestrator.model import Document, DocumentStatus


def selected_by(patterns: Sequence[str], path: str) -> bool:
    """True when ``path`` is selected by ``on.paths``-style ``patterns``, read in order: a glob
    includes the paths it matches, ``!glob`` excludes them again, and the last pattern that
    matches decides (as GitHub Actions reads ``paths``; the rules are in ``orchestrator.globs``).
    """
    return path_filter(tuple(patterns)).selects(path)


def is_intent_path(path: str, patterns: Sequence[str]) -> bool:
    """True for a path the settings' ``intents`` globs select (``README.md`` files excluded, as
    ``orch validate`` excludes them)."""
    if path.rsplit("/", 1)[-1].lower() == "readme.md":
        return False
    try:
        return path_filter(tuple(patterns)).selects(path)
    except GlobError as exc:
        raise UsageError(f"setting 'intents' {exc}") from None


def triggered_by(path: str, doc: Document, changed: Iterable[str]) -> bool:
    """True when a change of ``changed`` paths concerns the document at ``path``: the document
    itself changed, or its ``on.paths`` select a changed path."""
    patterns = doc.triggers.paths if doc.triggers is not None else ()
    return any(item == path or selected_by(patterns, item) for item in changed)


def changed_documents(documents: Mapping[str, Document], changed: Iterable[str]) -> list[str]:
    """The approved documents (by repository-relative path, sorted, each once) that a change
    of the ``changed`` paths runs. Documents of any other status never run by themselves."""
    changed = list(changed)
    return sorted(
        path
        for path, doc in documents.items()
        if doc.status is DocumentStatus.APPROVED and triggered_by(path, doc, changed)
    )
