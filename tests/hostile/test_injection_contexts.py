"""Where a quoted value stands in a script: the readers of shell and Python syntax that decide
whether quoting holds there (the property test runs the scripts themselves)."""

from __future__ import annotations

import sys

import pytest

from orchestrator.templating import pythonsyntax, shellsyntax

# ``@`` marks the position asked about.
SHELL = [
    ("echo @", shellsyntax.CODE),
    ('echo "a @"', shellsyntax.DOUBLE),
    ("echo 'a @'", shellsyntax.SINGLE),
    ('echo "$(echo @)"', shellsyntax.CODE),
    ("echo $(echo $(echo @))", shellsyntax.CODE),
    ("echo `echo @`", shellsyntax.BACKQUOTE),
    ('echo "`echo @`"', shellsyntax.BACKQUOTE),
    ("echo x # @", shellsyntax.COMMENT),
    ("echo a#@", shellsyntax.CODE),
    ("echo $#@", shellsyntax.CODE),
    ("echo $@", shellsyntax.DOLLAR),
    ("echo \\@", shellsyntax.ESCAPED),
    ("echo $'a @'", shellsyntax.ANSI),
    ("echo $'a\\'b' @", shellsyntax.CODE),
    ("cat <<EOF\nhello @\nEOF\n", shellsyntax.HEREDOC),
    ("cat <<'EOF'\nhello @\nEOF\n", shellsyntax.HEREDOC),
    ("cat <<EOF\nhello\nEOF\necho @", shellsyntax.CODE),
    ("cat <<-EOF\nhello\n\tEOF\necho @", shellsyntax.CODE),
    ("cat <<EOF; echo @\nbody\nEOF\n", shellsyntax.CODE),
    ("cat <<A <<B\na\nA\nb @\nB\n", shellsyntax.HEREDOC),
    ("cat <<A <<B\na\nA\nb\nB\necho @", shellsyntax.CODE),
    ("cat <<<@", shellsyntax.CODE),
    ("cat <<@", shellsyntax.HEREDOC_WORD),
    ("echo ${X:-@}", shellsyntax.PARAMETER),
    ("echo ${#X} @", shellsyntax.CODE),
    ("echo $((1 + @))", shellsyntax.ARITHMETIC),
    ("((x = @))", shellsyntax.ARITHMETIC),
    ("echo $(case a in a) echo b;; esac) @", shellsyntax.CODE),
    ('x="$(case a in a) echo @;; esac)"', shellsyntax.CODE),
    ("echo ')' \"(\" @", shellsyntax.CODE),
    ("f() { echo @; }", shellsyntax.CODE),
]


@pytest.mark.parametrize(("script", "context"), SHELL)
def test_shell_context(script: str, context: str) -> None:
    position = script.index("@")
    assert shellsyntax.contexts(script, [position]) == {position: context}


PYTHON = [
    ("print(@)", pythonsyntax.EXPRESSION),
    ('print("@")', pythonsyntax.INSIDE_STRING),
    ("print('''\n@\n''')", pythonsyntax.INSIDE_STRING),
    ('print(f"{1} @")', pythonsyntax.INSIDE_FSTRING),
    ("x = 1  # @", pythonsyntax.INSIDE_COMMENT),
    ("x = [@, 1]", pythonsyntax.EXPRESSION),
]


@pytest.mark.parametrize(("source", "place"), PYTHON)
def test_python_placement(source: str, place: str) -> None:
    if sys.version_info >= (3, 12) and place == pythonsyntax.INSIDE_FSTRING:
        place = pythonsyntax.INSIDE_STRING  # 3.12 reads an f-string's text as its own token
    literal = "'v'"
    text = source.replace("@", literal)
    start = source.index("@")
    assert pythonsyntax.placements(text, [(start, start + len(literal))]) == [place]


def test_a_letter_before_a_literal_makes_it_something_else() -> None:
    # f'{x}' from f + '{x}': an f-string, whose {x} would run.
    assert pythonsyntax.placements("print(f'{x}')", [(7, 12)]) != [pythonsyntax.EXPRESSION]
    assert pythonsyntax.placements("x = b'v'", [(5, 8)]) != [pythonsyntax.EXPRESSION]


def test_python_that_does_not_tokenize_is_reported() -> None:
    with pytest.raises(pythonsyntax.Untokenizable):
        pythonsyntax.placements("x = '''\n", [(0, 1)])
