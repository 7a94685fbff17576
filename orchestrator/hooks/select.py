"""Which documents a change runs: glob matching and the selection itself, as pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from orchestrator.model import Document, DocumentStatus


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression over ``/``-separated paths.

    ``*`` and ``?`` never cross a ``/``; ``**`` as a whole path segment matches any number of
    segments, none included (``src/**`` matches everything below ``src/``, ``**/x.md`` matches
    ``x.md`` at any depth); ``[...]`` is a character class (``[!...]`` negated).
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            at_start = i == 0 or pattern[i - 1] == "/"
            after = i + 2
            if at_start and after < n and pattern[after] == "/":
                out.append("(?:[^/]*/)*")
                i = after + 1
                continue
            if at_start and after == n:
                out.append(".*")
                i = after
                continue
            out.append("[^/]*")
            i = after
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out) + r"\Z")


def path_matches(pattern: str, path: str) -> bool:
    """True when the repository-relative ``path`` matches the glob ``pattern``."""
    pattern = pattern.removeprefix("./")
    return _compiled(pattern).match(path) is not None


def selected_by(patterns: Sequence[str], path: str) -> bool:
    """True when ``path`` is selected by ``on.paths``-style ``patterns``, read in order: a glob
    includes the paths it matches, ``!glob`` excludes them again, and the last pattern that
    matches decides (as GitHub Actions reads ``paths``)."""
    selected = False
    for pattern in patterns:
        excludes = pattern.startswith("!")
        if path_matches(pattern[1:] if excludes else pattern, path):
            selected = not excludes
    return selected


def is_intent_path(path: str, patterns: Sequence[str]) -> bool:
    """True for a path the settings' ``intents`` globs name (``README.md`` files excluded, as
    ``orch validate`` excludes them)."""
    if path.rsplit("/", 1)[-1].lower() == "readme.md":
        return False
    return any(path_matches(pattern, path) for pattern in patterns)


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
