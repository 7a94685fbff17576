"""Lines written without rich are the bytes rich would have written, whatever the text."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from orchestrator.cli.output import Output, Piece

STYLES = st.sampled_from(["", "dim", "bold red", "yellow", "green"])
TEXTS = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\t", "\r", "\n", "\x07", "\x08", "\x0b", "\x0c", "\x1b", ":", "["]),
    ),
    max_size=30,
)
PIECES = st.lists(st.one_of(TEXTS, st.tuples(TEXTS, STYLES)), max_size=4)


def _by_rich(pieces: list[Piece], *, highlight: bool) -> str:
    """What ``orch``'s rich console writes for these pieces where stderr is a file."""
    written = io.StringIO()
    console = Console(file=written, soft_wrap=True)
    text = Text.assemble(*pieces)
    if highlight:
        text = console.highlighter(text.plain)
    console.print(text)
    return written.getvalue()


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


@pytest.mark.usefixtures("no_terminal")
@settings(max_examples=300, deadline=None)
@given(PIECES, st.booleans())
def test_plain_lines_are_what_rich_writes(pieces: list[Piece], highlight: bool) -> None:
    written = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", written)
        output = Output()
        assert output.plain
        output.print(*pieces, highlight=highlight)
    assert written.getvalue() == _by_rich(pieces, highlight=highlight)


def test_texts_are_printed_as_written(
    no_terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # rich would turn ``:fire:`` into an emoji in a string it renders as markup.
    Output().print("it went :fire: wrong", ("[bold]", "red"), highlight=True)
    assert capsys.readouterr().err == "it went :fire: wrong[bold]\n"


@pytest.mark.parametrize(
    ("environ", "plain"),
    [
        ({}, True),
        # Told how to treat the stream, rich decides, whatever the stream is.
        ({"FORCE_COLOR": "1"}, False),
        ({"FORCE_COLOR": ""}, False),
        ({"TTY_COMPATIBLE": "0"}, False),
        ({"TTY_COMPATIBLE": "1"}, False),
    ],
)
def test_rich_decides_when_told_how_to_treat_the_stream(
    environ: dict[str, str], plain: bool
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", io.StringIO())
        assert Output(environ).plain is plain
