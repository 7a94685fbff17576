"""A step's output while it runs: read from the capture file as it grows, masked, passed on.

Whole-text masking (``Masker.mask``) needs the whole text; output that is kept while it is
produced (the live log, ``orch apply -v``) arrives in pieces, and a secret may be split
between two reads. ``MaskedStream`` therefore releases only complete lines that end at least
as far before the end of what it holds as the longest masked form is long, and only where
no masked form spans the cut, so every secret is whole inside one masked piece.
"""

from __future__ import annotations

import codecs
import os
import threading
from collections.abc import Callable

# Output without a line break for this long is released anyway (at a safe cut), so that a
# step printing one endless line neither hides its output nor fills orch's memory.
HOLD_LIMIT = 1 << 16
# How many earlier line ends are tried when a masked form spans the latest one.
_TRIES = 8


class MaskedStream:
    """Masks a text that arrives in pieces; ``feed`` returns what may be kept now."""

    def __init__(self, mask: Callable[[str], str], longest: int) -> None:
        self._mask = mask
        self._longest = longest
        self._pending = ""

    def feed(self, text: str) -> str:
        """Add ``text``; return the masked complete lines that are safe to release."""
        self._pending += text
        if self._longest == 0:
            cut = self._pending.rfind("\n") + 1
            released, self._pending = self._pending[:cut], self._pending[cut:]
            return released
        return self._release()

    def close(self) -> str:
        """The rest (the output ended): masked as a whole."""
        rest, self._pending = self._pending, ""
        return self._mask(rest) if rest else ""

    def _release(self) -> str:
        pending = self._pending
        # A masked form starting before ``limit`` ends inside ``pending``: cuts up to here
        # can be checked against every form that could span them.
        limit = len(pending) - self._longest
        if limit <= 0:
            return ""
        whole: str | None = None
        end = limit
        for _ in range(_TRIES):
            cut = pending.rfind("\n", 0, end) + 1
            if cut == 0:
                if len(pending) <= HOLD_LIMIT:
                    return ""
                cut = end
            head, tail = pending[:cut], pending[cut:]
            masked_head = self._mask(head)
            if whole is None:
                whole = self._mask(pending)
            if masked_head + self._mask(tail) == whole:
                self._pending = tail
                return masked_head
            end = cut - 1  # a masked form spans this cut: try the line end before it
            if end <= 0:
                return ""
        return ""


class OutputFollower:
    """Passes the masked output of a running process on, from the file it is captured in."""

    def __init__(
        self,
        fd: int,
        mask: Callable[[str], str],
        longest: int,
        on_text: Callable[[str], None],
        interval: float = 0.05,
    ) -> None:
        self._fd = fd
        self._stream = MaskedStream(mask, longest)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._on_text = on_text
        self._interval = interval
        self._offset = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stopping.wait(self._interval):
            self._drain()
        self._drain(final=True)

    def _drain(self, *, final: bool = False) -> None:
        text = ""
        chunk = os.pread(self._fd, 1 << 16, self._offset)
        while chunk:
            self._offset += len(chunk)
            text += self._decoder.decode(chunk)
            chunk = os.pread(self._fd, 1 << 16, self._offset)
        if final:
            text += self._decoder.decode(b"", final=True)
        released = self._stream.feed(text)
        if final:
            released += self._stream.close()
        if released:
            self._on_text(released)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


def lines_of(on_line: Callable[[str], None]) -> Callable[[str], None]:
    """A text callback that passes ``on_line`` each line of the text (without its end)."""

    def on_text(text: str) -> None:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        for line in lines:
            on_line(line)

    return on_text
