"""Parsed documents kept in the memory of a long-running process, each reused while its file
is unchanged (beneath it, ``load`` may take them from :mod:`.disk_cache`, which outlives
processes).

A file counts as unchanged while its modification and change times (nanoseconds), size and
inode are those seen when it was parsed. The file is looked at before it is read, so an
edit made while it is being parsed only makes the next call parse it again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from orchestrator.errors import Diagnostic, DocumentError
from orchestrator.model import Document

from . import load

_Stamp = tuple[int, int, int, int]


def _stamp(path: Path) -> _Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)


class DocumentCache:
    """``load`` with memory: a document (or its problems) is parsed once per version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[_Stamp, Document | tuple[Diagnostic, ...]]] = {}

    def load(self, path: Path) -> Document:
        """What :func:`orchestrator.document.load` gives for ``path``, parsed again only when
        the file changed since the last call."""
        key = path.absolute()
        stamp = _stamp(key)
        with self._lock:
            known = self._entries.get(key)
        if stamp is not None and known is not None and known[0] == stamp:
            result = known[1]
        else:
            try:
                result = load(path)
            except DocumentError as exc:
                result = exc.diagnostics
            if stamp is not None:
                with self._lock:
                    self._entries[key] = (stamp, result)
        if isinstance(result, Document):
            return result
        raise DocumentError(result)

    def retain(self, paths: Iterable[Path]) -> None:
        """Forget every document but those at ``paths`` (files that were moved or deleted)."""
        keep = {path.absolute() for path in paths}
        with self._lock:
            for key in [key for key in self._entries if key not in keep]:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
