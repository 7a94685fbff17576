"""Attribute groups are split into words as a POSIX shell quotes them, ``#`` included."""

from __future__ import annotations

import pytest

from orchestrator.document.steps import _split_words


def test_usual_attribute_groups() -> None:
    assert _split_words("step=sign-off if=\"inputs.target == 'production'\"") == [
        "step=sign-off",
        "if=inputs.target == 'production'",
    ]
    assert _split_words("step=a  timeout=10m\tretries=1") == ["step=a", "timeout=10m", "retries=1"]
    assert _split_words("interpreter='perl -w' x=''") == ["interpreter=perl -w", "x="]
    assert _split_words(r"file=my\ app.yaml step=x#1") == ["file=my app.yaml", "step=x#1"]


def test_an_unclosed_quote_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"^No closing quotation$"):
        _split_words("step=a if='x")
