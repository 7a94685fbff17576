"""Template and condition syntax checks: the shortcut for simple texts agrees with Jinja."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.document import templates
from orchestrator.errors import TemplateError
from orchestrator.templating import Where, check_expression, check_syntax

SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = st.sampled_from(
    [
        "{{",
        "}}",
        "{",
        "}",
        "{%",
        "%}",
        "{#",
        "#}",
        " ",
        "\t",
        "\n",
        "inputs",
        "env",
        ".",
        "x",
        "_a1",
        "'a'",
        '"b"',
        "'",
        '"',
        "\\",
        "%",
        "~",
        "+",
        "-",
        "|",
        "sh",
        "upper",
        "==",
        "<",
        ">=",
        "<=",
        "!=",
        "=",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "none",
        "0",
        "1",
        "01",
        "1.5",
        "(",
        ")",
        "[",
        "]",
        ",",
        "\x00",
        "é",
    ]
)
INSIDE = PIECES.filter(lambda piece: "{" not in piece and "}" not in piece)
TAGS = st.lists(INSIDE, max_size=7).map(lambda parts: "{{ " + "".join(parts) + " }}")
TEXTS = st.lists(st.one_of(PIECES, TAGS, TAGS), max_size=8).map("".join)
CONDITIONS = st.lists(INSIDE, max_size=9).map(" ".join)


def _jinja_accepts(text: str, *, body: bool) -> bool:
    try:
        check_syntax(text, Where("t", 1), body=body)
    except TemplateError:
        return False
    return True


def _jinja_accepts_condition(text: str) -> bool:
    try:
        check_expression(text, Where("t", 1))
    except TemplateError:
        return False
    return True


@SETTINGS
@given(TEXTS, st.booleans())
def test_a_simple_template_is_one_jinja_accepts(text: str, body: bool) -> None:
    if templates._simple_template(text, body):
        assert _jinja_accepts(text, body=body), text


@SETTINGS
@given(st.one_of(TEXTS, CONDITIONS))
def test_a_simple_condition_is_one_jinja_accepts(text: str) -> None:
    if templates._compiled(templates._SIMPLE_CONDITION).fullmatch(text):
        assert _jinja_accepts_condition(text), text


@pytest.mark.parametrize(
    "text",
    [
        "app: {{ env.APP }}\n",
        "weic_{{ '%04d' % inputs.patch }}_patch.zip",
        'echo {{ inputs.name | sh }} {{ env.A ~ "-x" }}\n',
        "${#ARRAY[@]} {{ inputs.x }}",
        "no tags at all {",
    ],
)
def test_usual_templates_take_the_shortcut(text: str) -> None:
    assert templates._simple_template(text, body=True)


@pytest.mark.parametrize(
    "text",
    ["{% if x %}{{ x }}{% endif %}", "{{- x }}", "{{ x.y() }}", "{{ not x }}", "{{ x\n}}"],
)
def test_others_go_to_jinja(text: str) -> None:
    assert not templates._simple_template(text, body=True)
    assert _jinja_accepts(text, body=True)


def test_invalid_texts_are_still_reported() -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        templates.check_template_syntax("{{ inputs. }}", Where("d.md", 4, "step 'a'"), body=True)
    with pytest.raises(TemplateError, match="syntax error"):
        templates.check_condition_syntax("inputs.x ==", Where("d.md", 4, "step 'a' if"))
    with pytest.raises(TemplateError, match="syntax error"):
        templates.check_template_syntax("{# x", Where("d.md", 4, "env A"), body=False)
