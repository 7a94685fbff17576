"""Tables that fit the terminal: one line per row, long names cut in the middle (the least
important column first), and the least important columns dropped when even cut names do not
fit.

Rich's tables wrap a cell that does not fit, so at 80 columns a workflow id becomes a tower
of four-character lines; and measuring thousands of rows through rich costs seconds. Here
the widths are worked out once from plain strings and every row is one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Span, Text

ELLIPSIS = "…"
GAP = "  "


@dataclass(frozen=True)
class Column:
    """A column: ``rank`` orders importance (0 is kept longest; the highest rank is dropped
    first); a ``shrink`` column may be cut in the middle down to ``min_width`` cells, the
    least that still reads well."""

    header: str
    rank: int
    shrink: bool = False
    min_width: int = 8
    right: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell: its text and an optional rich style (a colour for a state)."""

    text: str
    style: str = ""


def cut_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its middle replaced by ``…`` when it is longer."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    head = _fit(text, (room + 1) // 2)
    tail = _fit(text[::-1], room // 2)[::-1]
    return f"{head}{ELLIPSIS}{tail}"


def _fit(text: str, width: int) -> str:
    """The longest start of ``text`` that takes at most ``width`` cells."""
    used, end = 0, 0
    for end, char in enumerate(text):
        used += cell_len(char)
        if used > width:
            return text[:end]
    return text


def layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int) -> list[int]:
    """The width of each column (0 for a dropped one) so that a line fits in ``width``.

    A column empty in every row is not shown. The least important columns give way first:
    each shrinkable one is cut down to its ``min_width``; when even that does not fit, the
    least important column is dropped, and so on. A last column left is cut to the width.
    """
    natural = [
        max([cell_len(c.header), *(cell_len(row[i].text) for row in rows)])
        for i, c in enumerate(columns)
    ]
    least = [
        min(n, max(c.min_width, cell_len(c.header))) if c.shrink else n
        for c, n in zip(columns, natural, strict=True)
    ]
    shown = {i for i in range(len(columns)) if any(row[i].text for row in rows)} or {0}

    def needed(widths: Sequence[int]) -> int:
        return sum(widths[i] for i in shown) + len(GAP) * (len(shown) - 1)

    for index in sorted(shown, key=lambda i: columns[i].rank, reverse=True):
        if needed(least) <= width or len(shown) == 1:
            break
        shown.discard(index)
    widths = [natural[i] if i in shown else 0 for i in range(len(columns))]
    excess = needed(widths) - width
    for index in sorted(shown, key=lambda i: columns[i].rank, reverse=True):
        if excess <= 0:
            break
        if columns[index].shrink:
            cut = min(excess, widths[index] - least[index])
            widths[index] -= cut
            excess -= cut
    if excess > 0 and len(shown) == 1:
        (only,) = shown
        widths[only] = max(1, width)
    return widths


def render(columns: Sequence[Column], rows: Iterable[Sequence[Cell]], width: int) -> Text:
    """The header line and one line per row, each at most ``width`` cells, as one text.

    Built as one string with style spans: thousands of rows cost milliseconds, where a
    rich ``Text`` or ``print`` per line cost seconds.
    """
    rows = list(rows)
    widths = layout(columns, rows, width)
    parts: list[str] = []
    spans: list[Span] = []
    at = 0
    for row in ([Cell(c.header, "bold") for c in columns], *rows):
        line: list[str] = []
        for column, cell, column_width in zip(columns, row, widths, strict=True):
            if not column_width:
                continue
            if line:
                line.append(GAP)
                at += len(GAP)
            text = cut_middle(cell.text, column_width)
            pad = " " * (column_width - cell_len(text))
            if column.right:
                line.append(pad)
                at += len(pad)
            if cell.style:
                spans.append(Span(at, at + len(text), cell.style))
            line.append(text)
            at += len(text)
            if not column.right:
                line.append(pad)
                at += len(pad)
        joined = "".join(line)
        stripped = joined.rstrip(" ")
        at -= len(joined) - len(stripped)
        parts.append(stripped)
        at += 1  # the line break that joins this line to the next
    return Text("\n".join(parts), spans=spans)
