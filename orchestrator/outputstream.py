"""A step's output while it runs: read from the capture file as it grows, masked, passed on.

Whole-text masking (``Masker.mask``) needs the whole text; output that is kept while it is
produced (the live log, ``orch apply -v``) arrives in pieces, and a secret may be split
between two reads. ``MaskedStream`` therefore releases complete lines only, and never text
that could be the start of a masked form still being printed, nor a cut through a masked
form: every secret is whole inside one masked piece.
"""

from __future__ import annotations

import codecs
import os
import threading
from collections.abc import Callable, Sequence

# Output without a line break for this long is released anyway (at a safe cut), so that a
# step printing one endless line neither hides its output nor fills orch's memory.
HOLD_LIMIT = 1 << 16


class MaskedStream:
    """Masks a text that arrives in pieces; ``feed`` returns what may be kept now.

    ``forms`` are the texts ``mask`` replaces (``Masker.forms``).
    """

    def __init__(self, mask: Callable[[str], str], forms: Sequence[str]) -> None:
        self._mask = mask
        self._forms = tuple(form for form in forms if form)
        self._pending = ""

    def feed(self, text: str) -> str:
        """Add ``text``; return the masked complete lines that are safe to release."""
        self._pending += text
        pending = self._pending
        if not self._forms:
            cut = pending.rfind("\n") + 1
        else:
            limit = self._unfinished(pending)
            cut = pending.rfind("\n", 0, limit) + 1
            if cut == 0 and len(pending) > HOLD_LIMIT:
                cut = limit
            cut = self._unsplit(pending, cut)
        if cut <= 0:
            return ""
        released, self._pending = pending[:cut], pending[cut:]
        return self._mask(released) if self._forms else released

    def close(self) -> str:
        """The rest (the output ended): masked as a whole."""
        rest, self._pending = self._pending, ""
        return self._mask(rest) if rest else ""

    def _unfinished(self, text: str) -> int:
        """Where a masked form may have started that the text so far ends inside of (the
        earliest such place), else the text's length."""
        earliest = len(text)
        for form in self._forms:
            for size in range(min(len(form) - 1, len(text)), 0, -1):
                if len(text) - size >= earliest:
                    break
                if text.endswith(form[:size]):
                    earliest = len(text) - size
                    break
        return earliest

    def _unsplit(self, text: str, cut: int) -> int:
        """``cut`` moved back (to a line start) until no masked form in ``text`` spans it."""
        moved = True
        while cut > 0 and moved:
            moved = False
            for form in self._forms:
                start = text.find(form, max(0, cut - len(form) + 1), cut + len(form) - 1)
                if start != -1 and start < cut < start + len(form):
                    line_start = text.rfind("\n", 0, start) + 1
                    cut = line_start if line_start > 0 or len(text) <= HOLD_LIMIT else start
                    moved = True
                    break
        return cut


class OutputFollower:
    """Passes the masked output of a running process on, from the file it is captured in."""

    def __init__(
        self,
        fd: int,
        mask: Callable[[str], str],
        forms: Sequence[str],
        on_text: Callable[[str], None],
        interval: float = 0.05,
    ) -> None:
        self._fd = fd
        self._stream = MaskedStream(mask, forms)
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
