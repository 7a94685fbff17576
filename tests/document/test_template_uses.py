"""What templates use: the regular-expression reader agrees with Jinja's syntax tree, scopes
bind names as Jinja binds them, and what validate reports is what a run would meet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator import templating
from orchestrator.document import parse
from orchestrator.document.fences import join_spaced_equals, read_info, without_spaced_equals
from orchestrator.document.step_references import writes_output
from orchestrator.document.suggest import closest, did_you_mean
from orchestrator.errors import DocumentError, TemplateError
from orchestrator.model import Step, StepKind
from orchestrator.runner import context
from orchestrator.templating import Where, names, uses
from orchestrator.templating.uses import NameUse, Segment, Uses

SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = st.sampled_from(
    [
        "{{",
        "}}",
        " ",
        "\t",
        "\n",
        "inputs",
        "env",
        "steps",
        ".",
        "x",
        "_a1",
        "'a'",
        '"b"',
        "'",
        "%",
        "~",
        "+",
        "-",
        "*",
        "/",
        "|",
        "sh",
        "upper",
        "==",
        "<",
        ">=",
        "!=",
        "and",
        "or",
        "not",
        "in",
        "is",
        "defined",
        "if",
        "true",
        "none",
        "0",
        "1.5",
        "(",
        ")",
        "[",
        "]",
        ",",
    ]
)
INSIDE = PIECES.filter(lambda piece: "{" not in piece and "}" not in piece)
TAGS = st.lists(INSIDE, max_size=8).map(lambda parts: "{{ " + "".join(parts) + " }}")
TEXTS = st.lists(st.one_of(PIECES, TAGS, TAGS), max_size=8).map("".join)
CONDITIONS = st.lists(INSIDE, max_size=9).map(" ".join)


def _parses(text: str) -> bool:
    try:
        templating.check_syntax(text, Where("t", 1), body=True)
    except TemplateError:
        return False
    return True


@SETTINGS
@given(TEXTS)
def test_the_shortcut_reads_what_jinja_reads(text: str) -> None:
    try:
        quick = uses.simple_template_uses(text, body=True)
    except uses.NotSimple:
        return
    assert _parses(text), text
    assert quick == names.template_uses(text, body=True), text


@SETTINGS
@given(CONDITIONS)
# After a comparison, ``not`` is not Jinja's ``not``: the shortcut leaves such texts to Jinja.
@example("defined == not defined")
@example("a + not b")
@example("a in not b")
def test_the_shortcut_reads_conditions_as_jinja_does(text: str) -> None:
    try:
        quick = uses.simple_expression_uses(text)
    except uses.NotSimple:
        return
    assert quick == names.expression_uses(text), text


@pytest.mark.parametrize(
    "text",
    [
        "app: {{ env.APP }}\n",
        "weic_{{ '%04d' % inputs.patch }}_patch.zip",
        'echo {{ inputs.name | sh }} {{ env.A ~ "-x" }}\n',
        "${#ARRAY[@]} {{ steps.build.outputs.version }}",
        "{{ not inputs.x and steps.a.state != 'failed' }}",
    ],
)
def test_usual_templates_need_no_jinja(text: str) -> None:
    assert uses.simple_template_uses(text, body=True) == names.template_uses(text, body=True)


NameTuple = tuple[str, tuple[str, ...], bool]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% set x = inputs.a %}{{ x.b }}", [("inputs", ("a",), False)]),
        ("{{ x }}{% set x = 1 %}", [("x", (), False)]),
        (
            "{% for i in inputs.list %}{{ i }}{{ loop.index }}{% endfor %}{{ i }}",
            [("inputs", ("list",), False), ("i", (), False)],
        ),
        (
            "{% with y = env.A %}{{ y }}{% endwith %}{{ y }}",
            [("env", ("A",), False), ("y", (), False)],
        ),
        ("{% macro m(a) %}{{ a }}{{ caller() }}{{ kwargs }}{% endmacro %}{{ m(1) }}", []),
        ("{{ inputs['a'].b }}", [("inputs", ("a", "b"), False)]),
        ("{{ inputs[key].b }}", [("key", (), False), ("inputs", (), False)]),
        ("{{ inputs.a | default('') }}", [("inputs", ("a",), True)]),
        (
            "{% if inputs.a is defined %}{{ inputs.a.b }}{% endif %}",
            [("inputs", ("a",), True), ("inputs", ("a", "b"), True)],
        ),
        (
            "{% if inputs.a is not defined %}{% else %}{{ inputs.a }}{% endif %}",
            [("inputs", ("a",), True), ("inputs", ("a",), True)],
        ),
        (
            "{% if inputs.a is defined %}{% else %}{{ inputs.a }}{% endif %}",
            [("inputs", ("a",), True), ("inputs", ("a",), False)],
        ),
        ("{{ steps.a.outputs.get('v') }}", [("steps", ("a", "outputs", "get"), False)]),
        ("{% set ns = namespace(n=0) %}{% set ns.n = 1 %}{{ ns.n }}", [("namespace", (), False)]),
    ],
)
def test_scopes(text: str, expected: list[NameTuple]) -> None:
    found = names.template_uses(text, body=True).names
    assert [(u.name, tuple(s.name for s in u.path), u.guarded) for u in found] == expected


def test_loads_filters_and_tests_are_listed() -> None:
    found = names.template_uses(
        '{% include "x" %}{% import "y" as y %}{{ y.z | shh }}{{ 1 is odd }}', body=True
    )
    assert found.loads == (("include", 1), ("import", 1))
    assert found.filters == (("shh", 1),)
    assert found.tests == (("odd", 1),)
    assert found.names == ()


def test_a_template_that_does_not_parse_uses_nothing() -> None:
    assert templating.template_uses("{{ inputs. }}", body=True) == Uses()
    assert templating.expression_uses("inputs.x ==") == Uses()


def test_name_uses_keep_their_template_line() -> None:
    found = templating.template_uses("a\n{% if x %}\n{{ steps.b.state }}{% endif %}", body=True)
    assert found.names == (
        NameUse("x", (), 2),
        NameUse("steps", (Segment("b"), Segment("state")), 3),
    )


def _script(body: str, condition: str | None = None) -> Step:
    return Step(
        name="build",
        kind=StepKind.SCRIPT,
        language="bash",
        body=body,
        section="S",
        line=1,
        body_line=2,
        condition=condition,
    )


@pytest.mark.parametrize(
    ("body", "key", "writes"),
    [
        ('echo "version=1" >> "$ORCH_OUTPUT"\n', "version", True),
        ("echo version=1 >> $ORCH_OUTPUT\n", "version", True),
        ("echo -n version=1 >> $ORCH_OUTPUT\n", "version", True),
        ("printf 'version=%s\\n' 1 >> \"$ORCH_OUTPUT\"\n", "version", True),
        ('open(os.environ["ORCH_OUTPUT"], "a").write(f"version={v}\\n")\n', "version", True),
        ('cat >> "$ORCH_OUTPUT" <<EOF\nversion=1\nnotes<<END\nx\nEND\nEOF\n', "notes", True),
        ('cat >> "$ORCH_OUTPUT" <<EOF\nversion=1\nEOF\nlater=2\n', "later", False),
        ('echo "version=1"\n', "version", False),
        ('version=1\necho "v=$version" >> "$ORCH_OUTPUT"\n', "version", False),
        ('echo "$key=$value" >> "$ORCH_OUTPUT"\n', "version", False),
        ('echo "subversion=1" >> "$ORCH_OUTPUT"\n', "version", False),
    ],
)
def test_which_outputs_a_body_visibly_writes(body: str, key: str, writes: bool) -> None:
    assert writes_output(_script(body), key) is writes


@pytest.mark.parametrize(
    ("word", "known", "expected"),
    [
        ("tittle", ["id", "title", "owner"], "title"),
        ("biuld", ["build", "test"], "build"),
        ("Title", ["title"], "title"),
        ("colour", ["id", "title", "owner", "status"], None),
        ("title", ["title"], None),
    ],
)
def test_the_closest_known_word(word: str, known: list[str], expected: str | None) -> None:
    assert closest(word, known) == expected


def test_did_you_mean_formats_the_suggestion() -> None:
    assert did_you_mean("tiemout", ["timeout", "retries"], shown="{}=") == "did you mean timeout=?"
    assert did_you_mean("zzz", ["timeout"]) == ""


@pytest.mark.parametrize(
    ("words", "joined", "changed"),
    [
        (["step", "=", "test"], ["step=test"], True),
        (["step=", "test", "timeout=1m"], ["step=test", "timeout=1m"], True),
        (["step", "=test"], ["step=test"], True),
        (["step=a", "timeout=1m"], ["step=a", "timeout=1m"], False),
        (["step=a", "="], ["step=a", "="], False),
    ],
)
def test_spaced_equals_are_joined(words: list[str], joined: list[str], changed: bool) -> None:
    assert join_spaced_equals(words) == (joined, changed)


def test_the_fixed_group_keeps_quoted_values() -> None:
    assert without_spaced_equals(' step = a if = "x == 1" ') == 'step=a if="x == 1"'


@pytest.mark.parametrize(
    ("info", "language", "group", "after", "closed"),
    [
        ("bash {step=a}", "bash", "step=a", "", True),
        ("bash {step=a} now", "bash", "step=a", "now", True),
        ("bash {step=a if=\"x == '}'\"}", "bash", "step=a if=\"x == '}'\"", "", True),
        ("bash {step=a", "bash", "step=a", "", False),
        ("bash step=a", "bash", None, "step=a", True),
        ("bash", "bash", None, "", True),
    ],
)
def test_info_strings(
    info: str, language: str, group: str | None, after: str, closed: bool
) -> None:
    read = read_info(info)
    assert (read.language, read.group, read.after, read.closed) == (
        language,
        group,
        after,
        closed,
    )


# What validate says about a template, next to what rendering it in a run does: an error
# only where the run would fail, a warning only where it may, nothing where it cannot.
DOC = """---
id: agree
title: Validate and the run agree
inputs:
  name: {{type: string, default: world}}
  optional: {{type: string}}
env:
  APP: shop
---

```bash {{step=build}}
echo "version=1" >> "$ORCH_OUTPUT"
```

```bash {{step=use}}
echo {template}
```
"""
RUN_CONTEXT: dict[str, Any] = {
    "inputs": {"name": "world"},
    "env": {"APP": "shop"},
    "steps": {"build": context.StepView(state="completed", exit_code=0, outputs={"version": "1"})},
    "run": {"id": "r1", "trigger": "manual", "started_at": "2026-01-01T00:00:00Z", "actor": "a"},
    "workflow": {
        "id": "agree",
        "title": "t",
        "owner": None,
        "status": "draft",
        "path": "intents/agree.md",
        "revision": "abc",
    },
}


def _verdict(template: str) -> str:
    try:
        doc = parse(DOC.format(template=template), Path("intents/agree.md"))
    except DocumentError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        return "error" if errors else "warning"
    return "warning" if doc.warnings else "ok"


def _renders(template: str) -> bool:
    try:
        templating.render(template, context.build(**RUN_CONTEXT), Where("d", 1), body=True)
    except TemplateError:
        return False
    return True


@pytest.mark.parametrize(
    ("template", "verdict"),
    [
        ("{{ inputs.name | sh }}", "ok"),
        ("{{ inputs.nmae | sh }}", "error"),
        ("{{ env.APP }}", "ok"),
        ("{{ env.MISSING }}", "error"),
        ("{{ nodename }}", "error"),
        ("{{ steps.build.state }}", "ok"),
        ("{{ steps.biuld.state }}", "error"),
        ("{{ steps.build.stat }}", "error"),
        ("{{ steps.build.outputs.version }}", "ok"),
        ("{{ steps.build.outputs.other }}", "warning"),
        ("{{ steps.build.outputs.other | default('') }}", "ok"),
        ("{{ run.id }} {{ run.trigger }} {{ run.started_at }} {{ run.actor | sh }}", "ok"),
        ("{{ run.trigerr }}", "error"),
        ("{{ workflow.title }} {{ workflow.revision }}", "ok"),
        ("{{ workflow.titel }}", "error"),
        ("{{ inputs.optional | default('') | sh }}", "ok"),
        ("{{ inputs.name | shh }}", "error"),
        ("{{ inputs.name is strng }}", "error"),
        ("{% for k in env %}{{ env[k] }}{% endfor %}", "ok"),
        ("{{ range(2) | list | length }}", "ok"),
        ("{% include 'x' %}", "error"),
    ],
)
def test_validate_reports_what_a_run_would_meet(template: str, verdict: str) -> None:
    assert _verdict(template) == verdict
    if verdict == "error":
        assert not _renders(template), template
    elif verdict == "ok":
        assert _renders(template), template


def test_an_optional_input_without_default_fails_the_run_it_is_not_given_to() -> None:
    assert _verdict("{{ inputs.optional | sh }}") == "warning"
    assert not _renders("{{ inputs.optional | sh }}")
