"""Where in a Python script a piece of text stands, read with Python's own tokenizer.

``{{ value | py }}`` writes a Python literal. That holds where an expression may stand: the
literal must be whole tokens of its own (inside a string literal it would end that string; a
letter just before it would make ``f'...'`` of it). Unquoted outside text is harmless only
inside a string literal or a comment, where it cannot end them (see ``guard``).
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

EXPRESSION = "expression"  # whole tokens of code
INSIDE_STRING = "inside a string literal"
INSIDE_FSTRING = "inside an f-string"
INSIDE_COMMENT = "inside a comment"
STRADDLING = "across tokens"


@dataclass(frozen=True)
class _Token:
    type: int
    start: int
    end: int
    text: str


class Untokenizable(Exception):
    """The text is not valid Python tokens (orch cannot tell where a value stands)."""


def _tokens(text: str) -> Iterator[_Token]:
    line_starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            line_starts.append(index + 1)

    def offset(row: int, col: int) -> int:
        return line_starts[row - 1] + col if row - 1 < len(line_starts) else len(text)

    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.ENDMARKER, tokenize.NEWLINE, tokenize.NL):
                continue
            if token.type in (tokenize.INDENT, tokenize.DEDENT):
                continue
            yield _Token(token.type, offset(*token.start), offset(*token.end), token.string)
    except (tokenize.TokenError, SyntaxError) as exc:
        raise Untokenizable(str(exc.args[0] if exc.args else exc)) from None


def placements(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """For each ``(start, end)`` span, where it stands in the Python source ``text``."""
    tokens = list(_tokens(text))
    return [_placement(tokens, start, end) for start, end in spans]


def _placement(tokens: list[_Token], start: int, end: int) -> str:
    for token in tokens:
        if token.end <= start or token.start >= end:
            continue
        if token.start <= start and end <= token.end:
            if token.type == tokenize.COMMENT:
                return INSIDE_COMMENT
            if token.type == tokenize.STRING or _is_fstring_part(token.type):
                inside = token.start < start or end < token.end
                if inside:
                    # Before Python 3.12 an f-string is one token, its {fields} included.
                    prefix = token.text[: len(token.text) - len(token.text.lstrip("rRbBuUfF"))]
                    if token.type == tokenize.STRING and "f" in prefix.lower():
                        return INSIDE_FSTRING
                    return INSIDE_STRING
        if token.start < start or token.end > end:
            return STRADDLING
    return EXPRESSION


def _is_fstring_part(token_type: int) -> bool:
    names = ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
    return any(getattr(tokenize, name, -1) == token_type for name in names)
