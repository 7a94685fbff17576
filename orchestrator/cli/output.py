"""Lines for people on stderr: plain writes where rich would write the same, rich elsewhere.

Importing rich costs a one-step ``orch apply`` about as much as the run itself. Where stderr
is not a terminal (a log file, a pipe, CI) rich prints a text without colour, exactly as
written apart from two changes: it expands tabs and drops the control characters BEL, BS,
VT, FF and CR. A line free of those is written directly; anything else, and every terminal,
goes through rich (imported then). ``tests/cli/test_output.py`` checks that both ways give
the same bytes.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# A piece of a line: plain text, or (text, rich style).
Piece = str | tuple[str, str]

# What rich changes in a text it prints without a terminal: tabs, and the control characters
# it strips (``rich.control.strip_control_codes``).
_REWRITTEN_BY_RICH = re.compile("[\t\x07\x08\x0b\x0c\r]")
# Variables by which rich treats a stream that is no terminal as one (or the reverse).
_TERMINAL_OVERRIDES = ("FORCE_COLOR", "TTY_COMPATIBLE")


class Output:
    """stderr as ``orch`` writes to it for people (``rich.console.Console(stderr=True,
    soft_wrap=True)`` when it goes through rich)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    @property
    def plain(self) -> bool:
        """True when stderr is no terminal and nothing tells rich to treat it as one."""
        if any(name in self._environ for name in _TERMINAL_OVERRIDES):
            return False
        try:
            return not sys.stderr.isatty()
        except ValueError:  # closed: rich too treats it as no terminal
            return True

    @cached_property
    def console(self) -> Console:
        """The rich console behind this output (rich is imported on first use)."""
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True)

    @property
    def is_terminal(self) -> bool:
        return not self.plain and self.console.is_terminal

    def print(self, *pieces: Piece, highlight: bool = False) -> None:
        """One line made of ``pieces``; ``highlight``: colour numbers, paths and the like on a
        terminal, as rich does for text printed with its default settings."""
        if self.plain:
            text = "".join(piece if isinstance(piece, str) else piece[0] for piece in pieces)
            if not _REWRITTEN_BY_RICH.search(text):
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
                return
        self.console.print(self.rich_text(pieces, highlight=highlight))

    def rich_text(self, pieces: tuple[Piece, ...], *, highlight: bool = False) -> Text:
        """The pieces as a rich ``Text``, highlighted the way ``Console.print`` highlights
        a string."""
        from rich.text import Text

        text = Text.assemble(*pieces)
        if not highlight:
            return text
        highlighted = self.console.highlighter(text.plain)
        highlighted.copy_styles(text)
        return highlighted
