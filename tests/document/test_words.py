"""Attribute groups are split into words exactly as ``shlex.split`` does."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.document.steps import _split_words

TEXT = st.text(alphabet="ab=\"' {}\\\t\n\r#\x0b\xa0x", max_size=14)


def _outcome(split: object, text: str) -> object:
    try:
        return split(text)  # type: ignore[operator]
    except ValueError as exc:
        return f"error: {exc}"


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_same_words_as_shlex(text: str) -> None:
    expected = _outcome(lambda t: shlex.split(t, comments=False, posix=True), text)
    assert _outcome(_split_words, text) == expected


def test_usual_attribute_groups() -> None:
    assert _split_words("step=sign-off if=\"inputs.target == 'production'\"") == [
        "step=sign-off",
        "if=inputs.target == 'production'",
    ]
    assert _split_words("step=a  timeout=10m\tretries=1") == ["step=a", "timeout=10m", "retries=1"]
    assert _split_words("interpreter='perl -w' x=''") == ["interpreter=perl -w", "x="]
