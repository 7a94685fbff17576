"""Inputs never change a script's syntax: each form that once ran ``touch`` from an input value,
run for real with ``orch apply`` / ``orch plan``, and what happens to it now.

The hostile value is ``a; touch MARKER #``: had it changed the script, the marker file would
exist. Each test asserts the exact diagnostic and exit code, that the marker does not exist,
and for a refusal before the run, that nothing ran at all (no step, no trace).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, orch
from tests.hostile import injection_corpus as corpus

SAFE_SET = "ASCII letters, digits and ._-:/@+=,"
RAW_INPUT = (
    "inputs.x reaches the bash script unquoted and holds characters that can change its "
    "syntax: quote it with the sh filter, as the last thing done to it ({{ inputs.x | sh }}), "
    f'or use "$ORCH_INPUT_X" (unquoted, a value may hold only {SAFE_SET})'
)
DERIVED_INPUT = (
    "a value made from inputs.x reaches the bash script unquoted and holds characters that can "
    "change its syntax: quote it with the sh filter, as the last thing done to it "
    f'({{{{ ... | sh }}}}), or use "$ORCH_INPUT_X" (unquoted, a value may hold only {SAFE_SET})'
)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "injected"


def _apply(
    repo: Path, snippet: str, value: str, *, python: bool = False, plan: bool = False
) -> Ran:
    form = corpus.Form("test", snippet, corpus.accepted(str), python=python)
    commit_documents(repo, {corpus.PATH: corpus.document_text(form)})
    (repo / "inputs.json").write_text(json.dumps({"x": value}))
    return orch(repo, "plan" if plan else "apply", corpus.PATH, "--inputs", "inputs.json")


def _line(message: str, line: int = corpus.USE_LINE) -> str:
    return f"{corpus.PATH}:{line}:1: step 'use': {message}"


def _assert_refused_before_the_run(repo: Path, ran: Ran, message: str, marker: Path) -> None:
    assert ran.code == 2, ran.stderr
    assert ran.stderr.splitlines() == [_line(message)]
    assert not marker.exists()
    # Nothing ran: step ``make`` wrote no output file and no run reached the trace.
    assert not (repo / "out.bin").exists()
    assert git(repo, "branch", "--list", "orch-trace") == ""


def _hostile(marker: Path) -> str:
    return f"a; touch {marker} #"


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        pytest.param("{{ env.XE }}", corpus.RAW_ENV.message, id="env value made from an input"),
        pytest.param("{% set i = inputs %}{{ i.x }}", RAW_INPUT, id="set i = inputs"),
        pytest.param("{% with y = inputs.x %}{{ y }}{% endwith %}", RAW_INPUT, id="with"),
        pytest.param("{% set k = 'x' %}{{ inputs[k] }}", RAW_INPUT, id="inputs[k]"),
        pytest.param("{{ inputs['x' ~ ''] }}", RAW_INPUT, id="inputs['x' ~ '']"),
        pytest.param(
            "{% for k, v in inputs | dictsort %}{{ v }}{% endfor %}",
            RAW_INPUT,
            id="for k, v in inputs | dictsort",
        ),
        pytest.param(
            "{{ inputs.x | sh | replace(\"'\", '') }}", DERIVED_INPUT, id="sh | replace quotes"
        ),
        pytest.param("{{ (inputs.x | sh)[1:-1] }}", DERIVED_INPUT, id="(sh)[1:-1]"),
        pytest.param(
            '"{{ inputs.x | sh }}"',
            "inputs.x, quoted with the sh filter, stands inside a double-quoted string, where "
            "shell quoting does not hold: put it where a whole word may stand, outside any quotes"
            ' (echo "hello "{{ inputs.x | sh }})',
            id="sh inside double quotes",
        ),
    ],
)
def test_apply_refuses_the_run_before_it_starts(
    git_repo: Path, marker: Path, snippet: str, message: str
) -> None:
    ran = _apply(git_repo, snippet, _hostile(marker))
    _assert_refused_before_the_run(git_repo, ran, message, marker)


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        pytest.param(
            "{{ inputs | dictsort | first | last }}",
            RAW_INPUT,
            id="inputs | dictsort | first | last",
        ),
        pytest.param('{{ inputs.x | sh | trim("\'") }}', DERIVED_INPUT, id="sh | trim quotes"),
    ],
)
def test_plan_shows_the_refusal(git_repo: Path, marker: Path, snippet: str, message: str) -> None:
    ran = _apply(git_repo, snippet, _hostile(marker), plan=True)
    assert ran.code == 1, ran.stderr
    assert _line(message) in ran.stdout
    assert not marker.exists()
    planned = orch(git_repo, "plan", corpus.PATH, "--inputs", "inputs.json", "--json").json()
    assert [p["error"] for p in planned] == [None, _line(message)]


def test_sh_filter_in_a_python_step_is_refused_by_validate(git_repo: Path, marker: Path) -> None:
    # The form orch's own message once recommended: shell quoting is not Python quoting.
    ran = _apply(git_repo, "{{ inputs.x | sh }}", _hostile(marker), python=True)
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        f"{corpus.PATH}:{corpus.USE_LINE}:1: step 'use' is python3: the sh filter quotes for the "
        "shell, not for Python: use the py filter ({{ ... | py }})"
    ]
    validated = orch(git_repo, "validate", corpus.PATH)
    assert validated.code == 1
    assert validated.stdout.splitlines() == ran.stderr.splitlines()


def test_sh_quoting_that_reaches_a_python_step_another_way_is_refused(
    git_repo: Path, marker: Path
) -> None:
    text = corpus.document_text(corpus.Form("t", "{{ env.Q }}", corpus.accepted(str), True))
    text = text.replace(
        '  XE: "{{ inputs.x }}"\n', '  XE: "{{ inputs.x }}"\n  Q: "{{ inputs.x | sh }}"\n'
    )
    commit_documents(git_repo, {corpus.PATH: text})
    (git_repo / "inputs.json").write_text(
        json.dumps({"x": f"__import__('os').system('touch {marker}')"})
    )
    ran = orch(git_repo, "apply", corpus.PATH, "--inputs", "inputs.json")
    assert ran.code == 2, ran.stderr
    assert ran.stderr.splitlines() == [
        _line(
            "inputs.x is quoted with the sh filter, which quotes for the shell, but this is a "
            "python3 step: use the py filter ({{ inputs.x | py }})",
            corpus.USE_LINE + 1,
        )
    ]
    assert not marker.exists()


def test_quoted_values_reach_the_script_as_exactly_one_argument(
    git_repo: Path, marker: Path
) -> None:
    value = f"a; touch {marker} # $(touch {marker}) `touch {marker}` 'q' \"d\" \\ \nline2 é"
    ran = _apply(git_repo, "{{ inputs.x | sh }}", value)
    assert ran.code == 0, ran.stderr
    assert (git_repo / "out.bin").read_bytes() == value.encode()
    assert not marker.exists()


def test_python_literals_reach_the_script_as_exactly_the_value(
    git_repo: Path, marker: Path
) -> None:
    value = f"\"); __import__('os').system('touch {marker}'); (\"' \\ \n é \x07"
    ran = _apply(git_repo, "{{ inputs.x | py }}", value, python=True)
    assert ran.code == 0, ran.stderr
    with (git_repo / "out.txt").open(encoding="utf-8", newline="") as written:
        assert written.read() == value
    assert not marker.exists()


def test_a_safe_value_may_stand_unquoted(git_repo: Path) -> None:
    value = "release-1.2.3+build:7/a@b=c,d"
    ran = _apply(git_repo, "{{ inputs.x }}", value)
    assert ran.code == 0, ran.stderr
    assert (git_repo / "out.bin").read_text() == value


def test_a_step_output_is_checked_when_the_step_using_it_renders(
    git_repo: Path, marker: Path
) -> None:
    # Step ``make`` echoes the input into $ORCH_OUTPUT: the value is known only once it ran,
    # so step ``use`` fails (exit 1) and nothing after it runs.
    text = corpus.document_text(
        corpus.Form("t", "{{ steps.make.outputs.v }}", corpus.accepted(str))
    )
    text += "\n```bash {step=after}\ntouch after.txt\n```\n"
    commit_documents(git_repo, {corpus.PATH: text})
    (git_repo / "inputs.json").write_text(json.dumps({"x": _hostile(marker)}))
    ran = orch(git_repo, "apply", corpus.PATH, "--inputs", "inputs.json", "--json")
    assert ran.code == 1, ran.stderr
    message = _line(corpus.RAW_OUTPUT.message)
    record = ran.json()
    states = {step["name"]: step["state"] for step in record["steps"]}
    assert states == {"make": "completed", "use": "failed", "after": "skipped"}
    assert record["steps"][1]["error"] == message
    assert f"failed step 'use': {message}" in ran.stderr
    assert not marker.exists()
    assert not (git_repo / "out.bin").exists() and not (git_repo / "after.txt").exists()


def test_a_step_output_quoted_with_sh_reaches_the_script_exactly(
    git_repo: Path, marker: Path
) -> None:
    text = corpus.document_text(
        corpus.Form("t", "{{ steps.make.outputs.v | sh }}", corpus.accepted(str))
    )
    commit_documents(git_repo, {corpus.PATH: text})
    (git_repo / "inputs.json").write_text(json.dumps({"x": _hostile(marker)}))
    ran = orch(git_repo, "apply", corpus.PATH, "--inputs", "inputs.json")
    assert ran.code == 0, ran.stderr
    assert (git_repo / "out.bin").read_text() == _hostile(marker)
    assert not marker.exists()


INTERPRETER_DOCUMENT = """---
id: interp
title: Interpreter
status: approved
inputs:
  x: {{type: string, pattern: '^[\\s\\S]*$'}}
  mode: {{type: string, enum: [fast, slow]}}
---

# Interpreter

```text {{step=use interpreter="python3"}}
open("out.txt", "w").write({body})
```
"""


def test_an_interpreter_step_takes_no_quoting_filter(git_repo: Path, marker: Path) -> None:
    text = INTERPRETER_DOCUMENT.format(body='"{{ inputs.x }}"')
    commit_documents(git_repo, {"intents/interp.md": text})
    ran = orch(
        git_repo, "apply", "intents/interp.md", "-i", f"x={_hostile(marker)}", "-i", "mode=fast"
    )
    assert ran.code == 2, ran.stderr
    assert ran.stderr.splitlines() == [
        "intents/interp.md:13:1: step 'use': inputs.x reaches the body of an interpreter= step, "
        "and orch knows no quoting for python3: read it from the environment ($ORCH_INPUT_X) "
        "instead"
    ]
    assert not marker.exists()


def test_an_enum_value_may_stand_anywhere(git_repo: Path) -> None:
    text = INTERPRETER_DOCUMENT.format(body='"{{ inputs.mode }}"')
    commit_documents(git_repo, {"intents/interp.md": text})
    ran = orch(git_repo, "apply", "intents/interp.md", "-i", "x=anything", "-i", "mode=slow")
    assert ran.code == 0, ran.stderr
    assert (git_repo / "out.txt").read_text() == "slow"


def test_a_pattern_is_trusted_only_as_far_as_it_restricts(git_repo: Path, marker: Path) -> None:
    # JSON Schema patterns are searches: '^[a-z]' accepts anything that starts with a letter.
    text = corpus.document_text(corpus.Form("t", "{{ inputs.x }}", corpus.accepted(str)))
    text = text.replace("pattern: '^[\\s\\S]*$'", "pattern: '^[a-z]'")
    commit_documents(git_repo, {corpus.PATH: text})
    assert orch(git_repo, "validate", corpus.PATH).code == 0
    refused = orch(git_repo, "apply", corpus.PATH, "-i", f"x={_hostile(marker)}")
    assert refused.code == 2
    assert refused.stderr.splitlines() == [_line(RAW_INPUT)]
    assert not marker.exists()
    fine = orch(git_repo, "apply", corpus.PATH, "-i", "x=abc-1")
    assert fine.code == 0, fine.stderr
    assert (git_repo / "out.bin").read_text() == "abc-1"


def test_the_api_refuses_such_a_run_before_queueing_it(git_repo: Path, marker: Path) -> None:
    from tests.service.conftest import READ, RUN, start_server

    form = corpus.Form("t", "{% set i = inputs %}{{ i.x }}", corpus.accepted(str))
    commit_documents(git_repo, {corpus.PATH: corpus.document_text(form)})
    server = start_server(git_repo)
    try:
        with server.client() as client:
            answer = client.post(
                "/api/runs",
                headers=RUN,
                json={"workflow": "inj", "inputs": {"x": _hostile(marker)}},
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["problems"] == [_line(RAW_INPUT)]
            assert client.get("/api/runs", headers=READ).json() == []
            fine = client.post(
                "/api/runs", headers=RUN, json={"workflow": "inj", "inputs": {"x": "ok"}}
            )
            assert fine.status_code == 202, fine.text
    finally:
        server.stop()
    assert not marker.exists()


def test_the_keys_of_an_object_input_are_outside_text_too() -> None:
    from orchestrator import templating
    from orchestrator.errors import TemplateRefused

    inputs = {"cfg": templating.outside({"a; touch x #": 1, "ok": 2}, "inputs.cfg")}
    context = {"inputs": inputs, "env": {}, "steps": {}, "run": {}, "workflow": {}}
    where = templating.Where("intents/o.md", 9, "step 'use'")
    sh = templating.ScriptLanguage.SH
    with pytest.raises(TemplateRefused) as refused:
        templating.render(
            "{% for k in inputs.cfg %}echo {{ k }}\n{% endfor %}", context, where, script=sh
        )
    assert str(refused.value) == (
        "intents/o.md:9:1: step 'use': inputs.cfg reaches the sh script unquoted and holds "
        "characters that can change its syntax: quote it with the sh filter, as the last thing "
        'done to it ({{ inputs.cfg | sh }}), or use "$ORCH_INPUT_CFG" (unquoted, a value may '
        "hold only ASCII letters, digits and ._-:/@+=,)"
    )
    quoted = "{% for k in inputs.cfg %}echo {{ k | sh }} {{ inputs.cfg[k] }}\n{% endfor %}"
    assert templating.render(quoted, context, where, script=sh) == (
        "echo 'a; touch x #' 1\necho ok 2\n"
    )
