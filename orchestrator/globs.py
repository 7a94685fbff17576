"""Glob patterns with GitHub Actions' ``paths`` filter rules, for every path orch matches.

One set of rules for intent discovery (the ``intents`` setting), artifact ``files`` and hook
``on.paths`` (``docs/intent-format.md``, "Globs"): ``*`` is any run of characters but ``/``,
``**`` any run of characters, ``?`` and ``+`` make the *preceding* character optional or
repeatable, ``[...]`` is one character of a set, ``\\`` takes the next character literally,
and a leading ``!`` excludes again. A name starting with ``.`` is matched like any other.

Each pattern becomes one regular expression, compiled once; a list of patterns read in order
becomes a ``PathFilter``. Paths are repository-relative, ``/``-separated, without ``./``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Folders a walk never enters: git's own data and orch's state, at any depth.
SKIPPED_FOLDERS = frozenset({".git", ".orch"})

_MANY: int | None = None  # no upper bound on a repetition
_RANGE_GROUPS = ("az", "AZ", "09")
_QUANTIFIERS = {"?": (0, 1), "+": (1, _MANY)}
_ANY_FOLDERS = "(?:.*/)"  # "**/" at the start of a folder: any folders, none included


class GlobError(ValueError):
    """A pattern that cannot be read. The message says what is wrong and how to fix it, and
    reads on from the quoted pattern: ``f"'{pattern}' {error}"``."""


@dataclass
class _Atom:
    """One character-sized piece of a pattern and how often it may repeat."""

    regex: str
    low: int = 1
    high: int | None = 1
    literal: str | None = None  # the character itself, for a plain character

    def repeat(self, low: int, high: int | None) -> None:
        # Quantifiers compose by multiplying bounds; keeping one flat quantifier avoids
        # nested repetitions, which Python's backtracking engine can take exponential time on.
        self.low *= low
        self.high = _MANY if self.high is _MANY or high is _MANY else 1

    def render(self) -> str:
        suffix = {(1, 1): "", (0, 1): "?", (1, _MANY): "+", (0, _MANY): "*"}[(self.low, self.high)]
        return self.regex + suffix

    @property
    def plain(self) -> bool:
        return self.literal is not None and (self.low, self.high) == (1, 1)


@dataclass(frozen=True)
class Glob:
    """One compiled pattern (without its ``!``)."""

    text: str
    regex: re.Pattern[str]
    folder: str  # the literal leading folders ("build/dist" for "build/dist/**"), or ""
    literal: str | None  # the one path a pattern without wildcards names, else None

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


def _class(pattern: str, start: int) -> tuple[str, int]:
    """The character class opening at ``start`` as a regex, and the index after its ``]``."""
    i = start + 1
    members: list[str] = []
    while i < len(pattern) and pattern[i] != "]":
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                break
            char = pattern[i + 1]
            i += 1
        if char == "/":
            raise GlobError("has '/' in a character class, which matches one character of a name")
        if i == start + 1 and char in "!^" and pattern[i] == char:
            raise GlobError(
                f"negates a character class with '[{char}', which GitHub's rules do not have: "
                "list the characters to match, or exclude paths with a later '!' pattern"
            )
        if pattern.startswith("-", i + 1) and i + 2 < len(pattern) and pattern[i + 2] != "]":
            high = pattern[i + 2]
            if not any(g[0] <= char <= high <= g[1] for g in _RANGE_GROUPS):
                raise GlobError(
                    f"has the range '{char}-{high}', but a range runs upwards within a-z, A-Z "
                    "or 0-9, e.g. '[0-9a-f]'"
                )
            members.append(f"{re.escape(char)}-{re.escape(high)}")
            i += 3
            continue
        members.append(re.escape(char))
        i += 1
    if i >= len(pattern):
        raise GlobError(
            f"never closes the character class '{pattern[start:]}' opens: close it with ']', "
            "or write '\\[' to match '[' itself"
        )
    if not members:
        raise GlobError("has '[]', which lists no character: put the characters inside")
    return "[" + "".join(members) + "]", i + 1


def _atoms(pattern: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char in _QUANTIFIERS:
            if not atoms:
                raise GlobError(
                    f"has a '{char}' with no character before it to repeat: write "
                    f"'\\{char}' to match '{char}' itself"
                )
            atoms[-1].repeat(*_QUANTIFIERS[char])
            i += 1
        elif char == "\\":
            if i + 1 == n:
                raise GlobError("ends with a lone '\\': remove it, or write '\\\\'")
            atoms.append(_Atom(re.escape(pattern[i + 1]), literal=pattern[i + 1]))
            i += 2
        elif char == "[":
            regex, i = _class(pattern, i)
            atoms.append(_Atom(regex))
        elif pattern.startswith("**", i):
            end = i
            while end < n and pattern[end] == "*":
                end += 1
            segment_start = (
                not atoms
                or atoms[-1].regex == _ANY_FOLDERS
                or (atoms[-1].plain and atoms[-1].literal == "/")
            )
            slash_follows = pattern.startswith("/", end)
            quantified = end + 1 < n and pattern[end + 1] in _QUANTIFIERS
            if segment_start and slash_follows and not quantified:
                # "**/" also matches no folder at all: "**/README.md" matches "README.md".
                # Repeats ("**/**/") add nothing but backtracking, so they are kept once.
                if not atoms or atoms[-1].regex != _ANY_FOLDERS:
                    atoms.append(_Atom(_ANY_FOLDERS, 0, 1))
                i = end + 1
            else:
                atoms.append(_Atom(".", 0, _MANY))
                i = end
        elif char == "*":
            atoms.append(_Atom("[^/]", 0, _MANY))
            i += 1
        else:
            atoms.append(_Atom(re.escape(char), literal=char))
            i += 1
    return atoms


def _check_segments(pattern: str) -> None:
    if pattern.startswith("/"):
        raise GlobError(
            "starts with '/', but patterns are relative to the repository root: write "
            f"'{pattern.lstrip('/')}'"
        )
    if pattern.endswith("/"):
        raise GlobError(
            f"ends with '/', which no file's path does: write '{pattern}**' for everything "
            "in the folder"
        )
    for segment in re.split(r"(?<!\\)/", pattern):
        if segment == "..":
            raise GlobError(
                "has a '..' folder: patterns name paths from the repository root down and "
                "never reach outside the working tree"
            )
        if segment == ".":
            raise GlobError("has a '.' folder, which never appears in a path: remove it")
        if segment == "":
            raise GlobError("has '//', which never appears in a path: write a single '/'")


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    """``pattern`` (no leading ``!``) compiled; raises ``GlobError`` with the reason."""
    if not pattern:
        raise GlobError("is empty and matches nothing: write a path or a glob")
    text = pattern
    if pattern.startswith("./") and len(pattern) > 2:
        pattern = pattern[2:]  # a writer's "./src/**" means the repository's "src/**"
    _check_segments(pattern)
    atoms = _atoms(pattern)
    folder, prefix = "", list[str]()
    for atom in atoms:
        if not atom.plain:
            break
        if atom.literal == "/":
            folder = "".join(prefix)
        prefix.append(str(atom.literal))
    literal = "".join(prefix) if len(prefix) == len(atoms) else None
    regex = re.compile("".join(atom.render() for atom in atoms), re.DOTALL)
    return Glob(text=text, regex=regex, folder=folder, literal=literal)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` (``!`` allowed) cannot be read, as a sentence that starts with the
    quoted pattern, or ``None`` when it can be read."""
    try:
        parse_pattern(pattern)
    except GlobError as exc:
        return f"'{pattern}' {exc}"
    return None


def parse_pattern(pattern: str) -> tuple[bool, Glob]:
    """Whether ``pattern`` excludes (a leading ``!``), and the glob after the ``!``."""
    if pattern.startswith("!"):
        if not pattern[1:].strip():
            raise GlobError("excludes nothing: write '!<glob>'")
        return True, compile_glob(pattern[1:])
    return False, compile_glob(pattern)


class PathFilter:
    """Patterns read in order: a glob selects the paths it matches, ``!glob`` deselects them
    again, and the last pattern that matches a path decides (as GitHub Actions reads
    ``paths``). A path no pattern matches is not selected."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self.globs: list[tuple[bool, Glob]] = []
        for pattern in self.patterns:
            try:
                self.globs.append(parse_pattern(pattern))
            except GlobError as exc:
                raise GlobError(f"pattern '{pattern}' {exc}") from None
        # Runs of patterns with the same sign, last run first, each as one expression: the
        # first run (from the end) that matches holds the last matching pattern.
        runs: list[tuple[bool, list[str]]] = []
        for excludes, glob in reversed(self.globs):
            if runs and runs[-1][0] == excludes:
                runs[-1][1].append(glob.regex.pattern)
            else:
                runs.append((excludes, [glob.regex.pattern]))
        self._runs = [
            (excludes, re.compile("|".join(f"(?:{regex})" for regex in regexes), re.DOTALL))
            for excludes, regexes in runs
        ]

    def selects(self, path: str) -> bool:
        for excludes, regex in self._runs:
            if regex.fullmatch(path) is not None:
                return not excludes
        return False

    def folders(self) -> list[str]:
        """The fewest folders whose walks reach every path an including pattern can match
        (``""`` for the whole tree)."""
        starts = sorted({glob.folder for excludes, glob in self.globs if not excludes})
        kept: list[str] = []
        for folder in starts:
            if not any(folder == k or folder.startswith(k + "/") or k == "" for k in kept):
                kept.append(folder)
        return kept


@lru_cache(maxsize=256)
def path_filter(patterns: tuple[str, ...]) -> PathFilter:
    """``PathFilter(patterns)``, compiled once per list; raises ``GlobError``."""
    return PathFilter(patterns)


def matches(pattern: str, path: str) -> bool:
    """True when the repository-relative ``path`` matches ``pattern`` (no ``!``)."""
    return compile_glob(pattern).matches(path)


def walk(root: Path, folder: str = "") -> Iterator[tuple[str, bool]]:
    """Every entry under ``root / folder`` as ``(path relative to root, is a folder)``, the
    folders in ``SKIPPED_FOLDERS`` left out. Symbolic links below ``folder`` are listed, never
    entered."""
    if SKIPPED_FOLDERS.intersection(folder.split("/")):
        return
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(root / current if current else root))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            relative = f"{current}/{entry.name}" if current else entry.name
            is_folder = entry.is_dir()
            if is_folder and entry.name in SKIPPED_FOLDERS:
                continue
            yield relative, is_folder
            if is_folder and not entry.is_symlink():
                pending.append(relative)
