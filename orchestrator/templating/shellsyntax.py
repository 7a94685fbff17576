"""Where in a shell script a position stands: as a word of code, or inside something.

``{{ value | sh }}`` quotes a value as one shell word. That holds where a word may stand, in
code, and nowhere else: inside ``"..."`` the single quotes are literal and ``$(...)`` in the
value runs; inside a here-document or a comment a newline in the value ends it; inside
backquotes a backquote in the value ends them. This scanner follows the quoting rules of
POSIX sh, bash and zsh closely enough to say which of these a position is in. When it cannot
follow the script, it errs towards "inside something", so a quoted value is refused rather
than trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

CODE = "code"
SINGLE = "inside a single-quoted string"
DOUBLE = "inside a double-quoted string"
ANSI = "inside a $'...' string"
BACKQUOTE = "inside backquotes"
COMMENT = "inside a comment"
HEREDOC = "inside a here-document"
HEREDOC_WORD = "in a here-document's delimiter"
PARAMETER = "inside a ${...} expansion"
ARITHMETIC = "inside an arithmetic expression"
ESCAPED = "right after a backslash"
DOLLAR = "right after a $"

_WORD_START_AFTER = " \t\n;&|()<>"
_WORD_END = " \t\n;&|<>()"


@dataclass
class _Frame:
    kind: str
    depth: int = 0  # open parentheses or braces inside this frame
    cases: int = 0  # open ``case`` statements (their patterns end with ``)``)


@dataclass
class _Scanner:
    text: str
    wanted: list[int]
    found: dict[int, str] = field(default_factory=dict)
    stack: list[_Frame] = field(default_factory=lambda: [_Frame(CODE)])
    heredocs: list[tuple[str, bool]] = field(default_factory=list)
    next_wanted: int = 0

    def mark(self, start: int, end: int, context: str) -> None:
        """Record ``context`` for every wanted position in ``[start, end)``."""
        while self.next_wanted < len(self.wanted) and self.wanted[self.next_wanted] < end:
            position = self.wanted[self.next_wanted]
            if position >= start:
                self.found[position] = context
            self.next_wanted += 1

    def context(self) -> str:
        if any(frame.kind == BACKQUOTE for frame in self.stack):
            return BACKQUOTE
        return self.stack[-1].kind

    def run(self) -> dict[int, str]:
        text, i = self.text, 0
        while i < len(text):
            step = self.step(i)
            i += max(step, 1)
        self.mark(0, len(text) + 1, self.context())
        return self.found

    def step(self, i: int) -> int:
        """Consume the text at ``i``; return how many characters were consumed."""
        kind = self.stack[-1].kind
        if kind == CODE:
            return self.code(i)
        char = self.text[i]
        self.mark(i, i + 1, self.context())
        if kind == SINGLE:
            if char == "'":
                self.stack.pop()
            return 1
        if kind == ANSI:
            if char == "\\":
                self.mark(i + 1, i + 2, ANSI)
                return 2
            if char == "'":
                self.stack.pop()
            return 1
        if kind == COMMENT:
            if char == "\n":
                self.stack.pop()
                return self.newline(i)
            return 1
        if kind in (DOUBLE, BACKQUOTE, PARAMETER, ARITHMETIC):
            return self.nested(i, kind)
        return 1

    def nested(self, i: int, kind: str) -> int:
        text, char = self.text, self.text[i]
        frame = self.stack[-1]
        if char == "\\":
            self.mark(i + 1, i + 2, self.context())
            return 2
        if kind == DOUBLE and char == '"':
            self.stack.pop()
            return 1
        if kind == BACKQUOTE and char == "`":
            self.stack.pop()
            return 1
        if kind == PARAMETER:
            if char == "}" and frame.depth == 0:
                self.stack.pop()
                return 1
            if char == "{":
                frame.depth += 1
            elif char == "}":
                frame.depth -= 1
            elif char in "'\"":
                self.stack.append(_Frame(SINGLE if char == "'" else DOUBLE))
                return 1
        if kind == ARITHMETIC:
            if text.startswith("))", i) and frame.depth == 0:
                self.mark(i + 1, i + 2, ARITHMETIC)
                self.stack.pop()
                return 2
            if char == "(":
                frame.depth += 1
            elif char == ")":
                frame.depth -= 1
        opened = self.opening(i)
        return opened or 1

    def opening(self, i: int) -> int:
        """``$(``, ``$((``, ``${``, ``$'`` and backquotes open a frame anywhere but in
        single quotes; returns the characters consumed (0: nothing opens here)."""
        text = self.text
        if text.startswith("$((", i):
            self.mark(i + 1, i + 3, ARITHMETIC)
            self.stack.append(_Frame(ARITHMETIC))
            return 3
        if text.startswith("$(", i):
            self.mark(i + 1, i + 2, DOLLAR)
            self.stack.append(_Frame(CODE))
            return 2
        if text.startswith("${", i):
            self.mark(i + 1, i + 2, PARAMETER)
            self.stack.append(_Frame(PARAMETER))
            return 2
        if text[i] == "`":
            self.stack.append(_Frame(BACKQUOTE))
            return 1
        return 0

    def code(self, i: int) -> int:
        text, char = self.text, self.text[i]
        frame = self.stack[-1]
        self.mark(i, i + 1, self.context())
        if char == "\\":
            self.mark(i + 1, i + 2, ESCAPED)
            return 2
        if char == "'":
            self.stack.append(_Frame(SINGLE))
            return 1
        if char == '"':
            self.stack.append(_Frame(DOUBLE))
            return 1
        if char == "$":
            # Whatever a value right after a $ starts with, the $ makes something of it.
            self.mark(i + 1, i + 2, DOLLAR)
        if text.startswith("$'", i):
            self.mark(i + 1, i + 2, ANSI)
            self.stack.append(_Frame(ANSI))
            return 2
        opened = self.opening(i)
        if opened:
            return opened
        if char == "$":
            self.mark(i + 1, i + 2, DOLLAR)
            return 1
        if text.startswith("((", i) and self.word_start(i):
            self.mark(i + 1, i + 2, ARITHMETIC)
            self.stack.append(_Frame(ARITHMETIC))
            return 2
        if char == "#" and self.word_start(i):
            self.stack.append(_Frame(COMMENT))
            return 1
        if text.startswith("<<", i) and not text.startswith("<<<", i):
            return self.heredoc_operator(i)
        if text.startswith("<<<", i):
            return 3
        if char == "\n":
            return self.newline(i)
        if len(self.stack) > 1:
            return self.subshell(i, frame)
        return 1

    def subshell(self, i: int, frame: _Frame) -> int:
        """Inside ``$(...)``: find its closing parenthesis (not a ``case`` pattern's)."""
        text, char = self.text, self.text[i]
        if self.word_start(i) and _word_at(text, i) == "case":
            frame.cases += 1
        elif self.word_start(i) and _word_at(text, i) == "esac":
            frame.cases = max(frame.cases - 1, 0)
        elif char == "(":
            frame.depth += 1
        elif char == ")":
            if frame.depth > 0:
                frame.depth -= 1
            elif frame.cases == 0:
                self.stack.pop()
        return 1

    def word_start(self, i: int) -> bool:
        return i == 0 or self.text[i - 1] in _WORD_START_AFTER

    def heredoc_operator(self, i: int) -> int:
        text = self.text
        j = i + 2
        strip_tabs = text.startswith("-", j)
        j += 1 if strip_tabs else 0
        while j < len(text) and text[j] in " \t":
            j += 1
        start = j
        word: list[str] = []
        quote = ""
        while j < len(text):
            char = text[j]
            if quote:
                if char == quote:
                    quote = ""
                else:
                    word.append(char)
            elif char in "'\"":
                quote = char
            elif char == "\\" and j + 1 < len(text):
                j += 1
                word.append(text[j])
            elif char in _WORD_END:
                break
            else:
                word.append(char)
            j += 1
        self.mark(i + 1, j, HEREDOC_WORD if j > start else CODE)
        if j > start:
            self.heredocs.append(("".join(word), strip_tabs))
        return j - i

    def newline(self, i: int) -> int:
        """Consume the newline at ``i`` and the bodies of the here-documents waiting for
        it (they begin on the next line); returns the characters consumed."""
        text = self.text
        position = i + 1
        while self.heredocs:
            delimiter, strip_tabs = self.heredocs.pop(0)
            while position < len(text):
                end = text.find("\n", position)
                end = len(text) if end < 0 else end
                line = text[position:end]
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    self.mark(position, end + 1, HEREDOC)
                    position = end + 1
                    break
                self.mark(position, end + 1, HEREDOC)
                position = end + 1
        return position - i


def _word_at(text: str, i: int) -> str:
    end = i
    while end < len(text) and text[end] not in _WORD_END:
        end += 1
    return text[i:end]


def contexts(text: str, positions: Iterable[int]) -> dict[int, str]:
    """For each position, where it stands in the shell script ``text``: ``CODE`` where a
    word may start, else a description of what it is inside."""
    wanted = sorted(set(positions))
    return _Scanner(text, wanted).run()
