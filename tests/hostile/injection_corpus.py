"""Template forms that write an outside value into a script, and what each must do with it.

Every form is one snippet in a step that writes what it receives to a file:

- shell: ``printf '%s' SNIPPET > out.bin``: the file holds the exact bytes of the one
  argument the snippet became;
- python: ``open("out.txt", "w", encoding="utf-8", newline="").write(SNIPPET)``.

``expect(value)`` says what must happen for a value: ``Accepted(text)`` (the script receives
exactly ``text``) or ``Refused(message)`` (the render is refused with exactly ``message``,
after ``path:line:1: step 'use': ``).

The input is declared with a ``pattern`` that matches anything, so ``orch validate``'s early
check (which trusts patterns) lets every form through and the render-time check alone must
hold the line.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import escape

from orchestrator import document, templating
from orchestrator.runner import context, rendering

SAFE = re.compile(r"[A-Za-z0-9._\-:/@+=,]*")
NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
SAFE_SET = "ASCII letters, digits and ._-:/@+=,"
PATH = "intents/inj.md"


@dataclass(frozen=True)
class Accepted:
    text: str


@dataclass(frozen=True)
class Refused:
    message: str


Outcome = Accepted | Refused


def _unquoted(origin: str, fix: str) -> Refused:
    return Refused(
        f"{origin} reaches the bash script unquoted and holds characters that can change "
        f"its syntax: {fix} (unquoted, a value may hold only {SAFE_SET})"
    )


RAW_INPUT = _unquoted(
    "inputs.x",
    "quote it with the sh filter, as the last thing done to it ({{ inputs.x | sh }}), "
    'or use "$ORCH_INPUT_X"',
)
DERIVED_INPUT = _unquoted(
    "a value made from inputs.x",
    "quote it with the sh filter, as the last thing done to it ({{ ... | sh }}), "
    'or use "$ORCH_INPUT_X"',
)
RAW_ENV = _unquoted(
    "env.XE",
    'quote it with the sh filter, as the last thing done to it ({{ env.XE | sh }}), or use "$XE"',
)
RAW_OUTPUT = _unquoted(
    "steps.make.outputs.v",
    "quote it with the sh filter, as the last thing done to it ({{ steps.make.outputs.v | sh }})",
)


RAW_AFTER_DOLLAR = Refused(
    "inputs.x stands right after a $, where it would choose the variable to expand: a value "
    "from outside cannot name a variable (declare an enum to choose among known ones)"
)


def _misplaced(where: str, extra: str = "") -> Refused:
    return Refused(
        f"inputs.x, quoted with the sh filter, stands {where}, where shell quoting does "
        'not hold: put it where a whole word may stand, outside any quotes (echo "hello "'
        "{{ inputs.x | sh }})" + extra
    )


def raw(transform: Callable[[str], str], refusal: Refused) -> Callable[[str], Outcome]:
    """A form that writes ``transform(value)`` unquoted: fine only when that is all safe
    characters."""

    def expect(value: str) -> Outcome:
        text = transform(value)
        return Accepted(text) if SAFE.fullmatch(text) else refusal

    return expect


def accepted(transform: Callable[[str], str]) -> Callable[[str], Outcome]:
    return lambda value: Accepted(transform(value))


def refused(refusal: Refused) -> Callable[[str], Outcome]:
    return lambda value: refusal


def _same(value: str) -> str:
    return value


@dataclass(frozen=True)
class Form:
    name: str
    snippet: str
    expect: Callable[[str], Outcome]
    python: bool = False


SHELL_FORMS = [
    Form("plain", "{{ inputs.x }}", raw(_same, RAW_INPUT)),
    Form("sh filter", "{{ inputs.x | sh }}", accepted(_same)),
    Form("env made from an input", "{{ env.XE }}", raw(_same, RAW_ENV)),
    Form("set to inputs", "{% set i = inputs %}{{ i.x }}", raw(_same, RAW_INPUT)),
    Form("with", "{% with y = inputs.x %}{{ y }}{% endwith %}", raw(_same, RAW_INPUT)),
    Form("subscript by name", "{% set k = 'x' %}{{ inputs[k] }}", raw(_same, RAW_INPUT)),
    Form("subscript by expression", "{{ inputs['x' ~ ''] }}", raw(_same, RAW_INPUT)),
    Form("dictsort first last", "{{ inputs | dictsort | first | last }}", raw(_same, RAW_INPUT)),
    Form(
        "for over dictsort",
        "{% for k, v in inputs | dictsort %}{{ v }}{% endfor %}",
        raw(_same, RAW_INPUT),
    ),
    Form(
        "quotes replaced away",
        "{{ inputs.x | sh | replace(\"'\", '') }}",
        raw(lambda v: shlex.quote(v).replace("'", ""), DERIVED_INPUT),
    ),
    Form(
        "quotes sliced away",
        "{{ (inputs.x | sh)[1:-1] }}",
        raw(lambda v: shlex.quote(v)[1:-1], DERIVED_INPUT),
    ),
    Form(
        "quotes trimmed away",
        '{{ inputs.x | sh | trim("\'") }}',
        raw(lambda v: shlex.quote(v).strip("'"), DERIVED_INPUT),
    ),
    Form("concatenated", "{{ inputs.x ~ '' }}", raw(_same, RAW_INPUT)),
    Form("percent format", "{{ '%s' % inputs.x }}", raw(_same, DERIVED_INPUT)),
    Form("str.format", "{{ '{}'.format(inputs.x) }}", raw(_same, DERIVED_INPUT)),
    Form("upper", "{{ inputs.x | upper }}", raw(str.upper, DERIVED_INPUT)),
    Form(
        "method",
        "{{ inputs.x.replace('a', 'b') }}",
        raw(lambda v: v.replace("a", "b"), DERIVED_INPUT),
    ),
    Form("whole slice", "{{ inputs.x[:] }}", raw(_same, DERIVED_INPUT)),
    Form("characters joined", "{{ inputs.x | list | join('') }}", raw(_same, DERIVED_INPUT)),
    Form("html escape", "{{ inputs.x | e }}", raw(lambda v: str(escape(v)), DERIVED_INPUT)),
    Form("json", "{{ inputs.x | tojson }}", raw(lambda v: json.dumps(v), DERIVED_INPUT)),
    Form("namespace", "{% set ns = namespace(v=inputs.x) %}{{ ns.v }}", raw(_same, RAW_INPUT)),
    Form(
        "filter block undoes quoting",
        "{% filter replace(\"'\", '') %}{{ inputs.x | sh }}{% endfilter %}",
        raw(lambda v: shlex.quote(v).replace("'", ""), DERIVED_INPUT),
    ),
    Form(
        "macro that quotes",
        "{% macro q(v) %}{{ v | sh }}{% endmacro %}{{ q(inputs.x) }}",
        accepted(_same),
    ),
    Form(
        "macro output unquoted again",
        "{% macro q(v) %}{{ v | sh }}{% endmacro %}{{ q(inputs.x) | replace(\"'\", '') }}",
        raw(lambda v: shlex.quote(v).replace("'", ""), DERIVED_INPUT),
    ),
    Form(
        "captured block",
        "{% set b %}{{ inputs.x | sh }}{% endset %}{{ b }}",
        accepted(_same),
    ),
    Form("quoted then joined", "{{ [inputs.x] | map('sh') | join(' ') }}", accepted(_same)),
    Form(
        "quoted then concatenated",
        "{{ '--opt=' ~ inputs.x | sh }}",
        accepted(lambda v: "--opt=" + v),
    ),
    Form("option word", "--opt={{ inputs.x | sh }}", accepted(lambda v: "--opt=" + v)),
    Form(
        "inside double quotes",
        '"{{ inputs.x | sh }}"',
        refused(_misplaced("inside a double-quoted string")),
    ),
    Form(
        "inside backquotes",
        "`printf '%s' {{ inputs.x | sh }}`",
        refused(_misplaced("inside backquotes")),
    ),
    Form("right after $", "${{ inputs.x | sh }}", refused(_misplaced("right after a $"))),
    Form(
        "right after a backslash",
        "\\{{ inputs.x | sh }}",
        refused(_misplaced("right after a backslash")),
    ),
    Form("two quoted pieces", "{{ inputs.x | sh ~ inputs.x | sh }}", accepted(lambda v: v + v)),
    Form(
        "quoted twice in a row", "{{ inputs.x | sh }}{{ inputs.x | sh }}", accepted(lambda v: v + v)
    ),
    Form("default", "{{ inputs.x | default('') }}", raw(_same, RAW_INPUT)),
    Form("string", "{{ inputs.x | string }}", raw(_same, RAW_INPUT)),
    Form("reverse", "{{ inputs.x | reverse }}", raw(lambda v: v[::-1], DERIVED_INPUT)),
    Form("list joined", "{% set l = [inputs.x] %}{{ l | join }}", raw(_same, RAW_INPUT)),
    Form(
        "inside a command substitution",
        "\"$(printf '%s' {{ inputs.x | sh }})\"",
        accepted(lambda v: v.rstrip("\n")),
    ),
    Form("inside a comment", "'' # {{ inputs.x | sh }}", refused(_misplaced("inside a comment"))),
    Form(
        "inside ${...}",
        '"${UNSET:-{{ inputs.x | sh }}}"',
        refused(_misplaced("inside a ${...} expansion")),
    ),
    Form(
        "inside $((...))",
        "$(( {{ inputs.x | sh }} ))",
        refused(_misplaced("inside an arithmetic expression")),
    ),
    Form(
        "raw right after $",
        "${{ inputs.x }}",
        lambda v: RAW_AFTER_DOLLAR if SAFE.fullmatch(v) else RAW_INPUT,
    ),
    Form("bytes and back", "{{ inputs.x.encode().decode() }}", raw(_same, DERIVED_INPUT)),
    Form(
        "bytes spelled out",
        "{% for b in inputs.x.encode() %}{{ '%c' % b }}{% endfor %}",
        raw(lambda v: "".join(map(chr, v.encode())), DERIVED_INPUT),
    ),
    Form(
        "a character from a count",
        "{{ '%c' % (inputs.x | length + 58) }}",
        raw(lambda v: chr(len(v) + 58), DERIVED_INPUT),
    ),
    Form(
        "document text picked by a count",
        "{{ 'abc;def'[(inputs.x | length) % 7] }}",
        raw(lambda v: "abc;def"[len(v) % 7], DERIVED_INPUT),
    ),
    Form("step output", "{{ steps.make.outputs.v }}", raw(_same, RAW_OUTPUT)),
    Form("step output quoted", "{{ steps.make.outputs.v | sh }}", accepted(_same)),
]

PY_RAW = Refused(
    "inputs.x is written into the Python script unquoted, where it can change the script's "
    "syntax: quote it with the py filter, as the last thing done to it ({{ inputs.x | py }}), "
    'or use os.environ["ORCH_INPUT_X"]'
)
PY_CODE = Refused(
    "inputs.x stands unquoted in the Python code, where it can change the script's syntax: "
    "quote it with the py filter, as the last thing done to it ({{ inputs.x | py }}), or use "
    'os.environ["ORCH_INPUT_X"]'
)
PY_SH = Refused(
    "inputs.x is quoted with the sh filter, which quotes for the shell, but this is a python3 "
    "step: use the py filter ({{ inputs.x | py }})"
)


def _py_misplaced(where: str) -> Refused:
    return Refused(
        f"inputs.x, quoted with the py filter, stands {where}, where a Python literal does not "
        'hold: put it where an expression may stand (print("hello " + {{ inputs.x | py }}))'
    )


def _in_string(value: str) -> Outcome:
    return Accepted(value) if SAFE.fullmatch(value) else PY_RAW


def _as_code(value: str) -> Outcome:
    if NUMBER.fullmatch(value):
        return Accepted(str(ast.literal_eval(value)))
    return PY_CODE


PYTHON_FORMS = [
    Form("py filter", "{{ inputs.x | py }}", accepted(_same), python=True),
    Form("py filter in a list", "[{{ inputs.x | py }}][0]", accepted(_same), python=True),
    Form("sh filter in python", "{{ inputs.x | sh }}", refused(PY_SH), python=True),
    Form(
        "py literal inside a string",
        '"{{ inputs.x | py }}"',
        refused(_py_misplaced("inside a string literal")),
        python=True,
    ),
    Form("raw inside a string", '"{{ inputs.x }}"', _in_string, python=True),
    Form("py filter on a list", "{{ [inputs.x] | py }}[0]", accepted(_same), python=True),
    Form(
        "py literal in a comment",
        "'') # {{ inputs.x | py }}",
        refused(_py_misplaced("inside a comment")),
        python=True,
    ),
    Form("raw as code", "str({{ inputs.x }})", _as_code, python=True),
]

FORMS = SHELL_FORMS + PYTHON_FORMS


def document_text(form: Form) -> str:
    """The document running ``form``: step ``make`` publishes the input as output ``v``,
    step ``use`` holds the form."""
    if form.python:
        use = (
            "```python3 {step=use}\n"
            f'open("out.txt", "w", encoding="utf-8", newline="").write({form.snippet})\n'
            "```\n"
        )
    else:
        use = f"```bash {{step=use}}\nprintf '%s' {form.snippet} > out.bin\n```\n"
    return (
        "---\n"
        "id: inj\n"
        "title: Injection\n"
        "status: approved\n"
        "inputs:\n"
        "  x:\n"
        "    type: string\n"
        "    required: true\n"
        "    pattern: '^[\\s\\S]*$'\n"
        "env:\n"
        '  XE: "{{ inputs.x }}"\n'
        "---\n"
        "\n"
        "# Injection\n"
        "\n"
        "```bash {step=make}\n"
        'printf \'v=%s\\n\' "$ORCH_INPUT_X" >> "$ORCH_OUTPUT"\n'
        "```\n"
        "\n" + use
    )


# The body of step ``use`` starts on this line of every document above.
USE_LINE = 21


@dataclass(frozen=True)
class _Run:
    """What rendering needs of a run, without starting one."""

    document: Any
    inputs: Any
    run_info: Any
    workflow_info: Any
    render_limits: templating.Limits

    def where(self, line: int, what: str) -> templating.Where:
        return templating.Where(PATH, line, what)


def render_use(form: Form, value: str) -> str:
    """Render step ``use`` of ``form``'s document as a run with input ``x=value`` would, with
    step ``make`` having published ``v=value``. Raises ``TemplateError`` when refused."""
    # The document is parsed with a harmless body, then given the form: ``orch validate``
    # would stop some forms before any value exists, and this checks the render alone.
    written = Form(form.name, "'x'", form.expect, form.python)
    doc = document.parse(document_text(written), Path(PATH))
    body = document_text(form).split("\n")[USE_LINE - 1] + "\n"
    doc = dataclasses.replace(
        doc, steps=(doc.steps[0], dataclasses.replace(doc.steps[1], body=body))
    )
    inputs = document.resolve_inputs(doc, file_values={"x": value})
    run = _Run(doc, inputs, {"id": "r", "actor": "tester"}, {"id": "inj"}, templating.Limits())
    env = rendering.render_env(run)
    made = context.StepView(state="completed", exit_code=0, outputs={"v": value})
    template_context = rendering.template_context(run, env=env, steps={"make": made})
    return rendering.render_body(run, doc.steps[1], template_context)


def diagnostic(outcome: Refused) -> str:
    return f"{PATH}:{USE_LINE}:1: step 'use': {outcome.message}"
