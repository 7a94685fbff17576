"""The closest known spelling of a mistyped word, for "did you mean ...?" (difflib)."""

from __future__ import annotations

from collections.abc import Iterable

# difflib's default: 'tittle'/'title' and 'biuld'/'build' are close, 'url'/'expect' are not.
_CUTOFF = 0.6


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to ``word`` (case is ignored for the comparison), or None."""
    import difflib  # imported here: only a mistake needs it, and every command loads this module

    options = [option for option in dict.fromkeys(known) if option != word]
    by_lower: dict[str, str] = {}
    for option in options:
        by_lower.setdefault(option.lower(), option)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=_CUTOFF)
    return by_lower[found[0]] if found else None


def did_you_mean(word: str, known: Iterable[str], *, shown: str = "'{}'") -> str:
    """``"did you mean 'title'?"`` for the closest known word, or ``""``. ``shown`` formats
    the suggestion (``"{}="`` for a step attribute)."""
    found = closest(word, known)
    return f"did you mean {shown.format(found)}?" if found is not None else ""
