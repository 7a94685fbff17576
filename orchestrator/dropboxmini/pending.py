"""An upload being received: a temporary file under the store's root, size-checked and
hashed while it is written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from orchestrator.dropboxmini.layout import cannot_write
from orchestrator.dropboxmini.protocol import TooLargeError

# Files are written at most this many bytes per write() call. Larger writes make Linux
# (6.x, ext4) back the page cache with large folios, which on a virtual machine with free
# page reporting come from memory handed back to the host: a 1 GiB file written 1 MiB at a
# time took 1.2-1.4 s, 4 MiB at a time 4.0-4.5 s, 256 KiB at a time 0.3 s
# (docs/performance.md).
WRITE_PIECE = 256 * 1024
CHUNK = WRITE_PIECE


class PendingUpload:
    """Bytes being received: a temporary file under the root, hashed while written."""

    def __init__(self, tmp_dir: Path, max_bytes: int) -> None:
        self.path = tmp_dir / f"upload-{os.getpid()}-{secrets.token_hex(8)}.part"
        try:
            try:
                self._file: BinaryIO | None = self.path.open("xb")
            except FileNotFoundError:  # .tmp/ removed by hand: recreate it
                tmp_dir.mkdir(exist_ok=True)
                self._file = self.path.open("xb")
        except OSError as exc:
            raise cannot_write(tmp_dir.parent, exc) from None
        self._hash = hashlib.sha256()
        self._head = b""
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, chunk: bytes | memoryview) -> None:
        try:
            self.accept(chunk)
        except TooLargeError:
            self.discard()
            raise
        self.absorb((chunk,))

    def accept(self, chunk: bytes | memoryview) -> None:
        """Count ``chunk`` against the limit (:class:`TooLargeError` when it is passed; the
        caller discards the upload) and note the file's first bytes; :meth:`absorb` must then
        be given the same bytes, in the same order."""
        if self._file is None:
            raise ValueError("write to a closed upload")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise TooLargeError(
                f"the file is larger than this store's limit of {self.max_bytes} bytes"
            )
        if len(self._head) < 8:
            self._head += bytes(chunk[: 8 - len(self._head)])

    def absorb(self, chunks: Iterable[bytes | memoryview]) -> None:
        """Hash and write accepted chunks, in order. Safe to run in a worker thread while
        nothing else touches this upload (hashing and writing release the GIL)."""
        file = self._file
        if file is None:
            raise ValueError("write to a closed upload")
        update, write = self._hash.update, file.write
        try:
            for chunk in chunks:
                update(chunk)
                if len(chunk) <= WRITE_PIECE:
                    write(chunk)
                    continue
                view = memoryview(chunk)
                for start in range(0, len(view), WRITE_PIECE):
                    write(view[start : start + WRITE_PIECE])
        except OSError as exc:
            raise cannot_write(self.path.parent.parent, exc) from None

    def copy_from(self, stream: BinaryIO | Iterable[bytes]) -> None:
        if hasattr(stream, "read"):
            reader = stream.read
            while chunk := reader(CHUNK):
                self.write(chunk)
        else:
            for chunk in stream:
                self.write(chunk)

    @property
    def head(self) -> bytes:
        return self._head

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                raise cannot_write(self.path.parent.parent, exc) from None

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
