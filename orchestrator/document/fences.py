"""A fence's info string as a step reads it, and the fences that look like steps but are not.

``bash {step=build timeout=10m}`` is a language, then one attribute group in braces. What a
writer easily gets wrong instead, each reported with the fix rather than read as
documentation (or as three unrelated errors): attributes without braces (``bash
step=lint``), spaces around ``=`` (``{ step = test }``), text after the closing brace, and
a misspelled ``step=`` (``{stp=build}``), which would leave the block as documentation that
never runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it.common.utils import unescapeAll

from .suggest import closest

_QUOTED_OR_PLAIN = re.compile(r"'[^']*'|\"[^\"]*\"|[^'\"]+|['\"]")
_SPACED_EQUALS = re.compile(r"[ \t]*=[ \t]*")
_UNBRACED_STEP = re.compile(r"(?:^|\s)(step=\S*)")


@dataclass(frozen=True)
class Info:
    """The parts of an info string: ``language {group} after``."""

    language: str
    group: str | None  # the text between the braces; None without braces
    after: str  # text after the closing brace (or, without braces, after the language)
    closed: bool = True  # False when the group's '{' has no '}'


def read_info(info: str) -> Info:
    """Split an info string into language, attribute group and what follows it."""
    text = info.strip()
    brace = text.find("{")
    if brace < 0:
        language, _, rest = text.partition(" ")
        return Info(unescapeAll(language.strip()), None, rest.strip())
    # The language is the first word, its escapes and character references resolved as
    # CommonMark reads them (``f&ouml;&ouml;`` is ``föö``); further words before the group
    # are for other tools.
    words = text[:brace].split()
    language = unescapeAll(words[0]) if words else ""
    end = _closing_brace(text, brace)
    if end < 0:
        return Info(language, text[brace + 1 :], "", closed=False)
    return Info(language, text[brace + 1 : end], text[end + 1 :].strip())


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the group opened at ``start`` (quotes are skipped), or -1."""
    if "'" not in text and '"' not in text:
        return text.find("}", start)
    quote = ""
    for index in range(start + 1, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
        elif char == "}":
            return index
    # An unclosed quote: the last brace closes the group, as a writer would read it.
    return text.rfind("}") if text.rfind("}") > start else -1


def unbraced_step(info: Info) -> str | None:
    """``step=NAME`` written after the language without braces, or None."""
    if info.group is not None:
        return None
    match = _UNBRACED_STEP.search(info.after)
    return match.group(1) if match else None


def join_spaced_equals(words: list[str]) -> tuple[list[str], bool]:
    """``step = test`` split by the shell into three words, joined back to ``step=test``;
    True when something was joined."""
    joined: list[str] = []
    changed = False
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        if word == "=" and joined and "=" not in joined[-1] and following is not None:
            joined[-1] += "=" + following
            index += 2
            changed = True
            continue
        if word.startswith("=") and joined and "=" not in joined[-1]:
            joined[-1] += word
            index += 1
            changed = True
            continue
        ending = word.endswith("=") and word.count("=") == 1
        if ending and following is not None and "=" not in following:
            joined.append(word + following)
            index += 2
            changed = True
            continue
        joined.append(word)
        index += 1
    return joined, changed


def without_spaced_equals(group: str) -> str:
    """The group as it should be written: no spaces around ``=`` outside quotes, no spaces
    inside the braces' ends."""
    parts = [
        part if part[:1] in ("'", '"') else _SPACED_EQUALS.sub("=", part)
        for part in _QUOTED_OR_PLAIN.findall(group)
    ]
    return "".join(parts).strip()


def misspelled_step(keys: list[str]) -> str | None:
    """A key of a group without ``step`` that is most likely ``step`` misspelled."""
    for key in keys:
        if key and key != "step" and closest(key, ("step",)) == "step":
            return key
    return None


def column(source: str, needle: str, fallback: int) -> int:
    """1-based column of ``needle`` on the fence's line, or ``fallback``."""
    at = source.find(needle) if needle else -1
    return at + 1 if at >= 0 else fallback
