"""A running step's log, written to the run folder as the step prints (already masked), so
that ``orch logs -f`` and the web view can follow it. When the step ends its final log
replaces it (``output.write_log``: the whole output masked as one text, capped)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


class LiveLog:
    """Appends to ``path`` while a step runs; stops (with a note) at ``cap_bytes``.

    Failing to write is not the step's problem: the live log is a view, the final log is the
    evidence, and its own write reports a full disk.
    """

    def __init__(self, path: Path, cap_bytes: int) -> None:
        self._path = path
        self._cap = cap_bytes
        self._written = 0
        self._fd: int | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
            self._fd = os.open(path, flags, 0o644)
        except OSError:
            self._fd = None

    def write(self, text: str) -> None:
        if self._fd is None or not text:
            return
        data = text.encode("utf-8")
        if self._written + len(data) > self._cap:
            note = f"[orch: the live log stops at {self._cap} bytes; the final log keeps the end]\n"
            self._written = self._cap
            self._write(note.encode())
            self.close()
            return
        self._written += len(data)
        self._write(data)

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        try:
            os.write(self._fd, data)
        except OSError:
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
