"""Saving a downloaded artifact: the file appears only when its bytes are the recorded ones.

The bytes go to a temporary file next to the destination while their size and sha256 are
computed; the file is renamed into place only when both match the artifact's record, and
removed otherwise. The hash runs on a worker thread (``hashlib`` releases the GIL), so a
large download is hashed on another core while the next chunks are received and written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from orchestrator.dropboxmini.protocol import ArtifactRecord, IntegrityError

# Chunks handed to the hashing thread and not yet hashed, at most (each a copy).
HASH_BACKLOG = 8


class BackgroundHash:
    """sha256 of a sequence of chunks, computed in order on one worker thread."""

    def __init__(self, backlog: int = HASH_BACKLOG) -> None:
        self._hash = hashlib.sha256()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="dropboxmini-hash")
        self._pending: deque[Future[None]] = deque()
        self._backlog = backlog

    def update(self, chunk: bytes | memoryview) -> None:
        """Queue ``chunk`` (copied: the caller may reuse its buffer at once)."""
        if len(self._pending) >= self._backlog:
            self._pending.popleft().result()
        self._pending.append(self._worker.submit(self._hash.update, bytes(chunk)))

    def hexdigest(self) -> str:
        while self._pending:
            self._pending.popleft().result()
        return self._hash.hexdigest()

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BackgroundHash:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_verified(dest: Path, chunks: Iterable[bytes | memoryview], record: ArtifactRecord) -> None:
    """Write ``chunks`` to ``dest`` if they are ``record``'s bytes; raise
    :class:`IntegrityError` (and leave ``dest`` as it was) if they are not."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        size = 0
        with BackgroundHash() as digest, tmp.open("wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            sha256 = digest.hexdigest()
        if size != record.size or sha256 != record.sha256:
            raise IntegrityError(
                f"artifact {record.artifact_id}: the bytes received ({size} bytes, sha256 "
                f"{sha256}) are not the recorded ones ({record.size} bytes, sha256 "
                f"{record.sha256}); {dest} was not written. The stored copy may be damaged: "
                "tell the service's operator"
            )
        tmp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def file_chunks(path: Path, size: int) -> Iterable[bytes]:
    """The bytes of the file at ``path``, ``size`` at a time."""
    with Path(path).open("rb", buffering=0) as handle:
        while chunk := handle.read(size):
            yield chunk
