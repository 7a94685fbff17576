"""A script's errors name the document and its line, never the temporary file orch ran:
in the live display, ``orch logs``, the stored log and report.md. Real ``orch apply``, real
bash, sh (dash), python3 and perl."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runner.places import ScriptPlaces, places_for
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch
from tests.hostile.test_interrupt_cleanup import _interrupt

FRONT = """
id: demo
title: Demo
status: approved
"""


def _run(repo: Path, body: str, *args: str) -> tuple[dict[str, Any], str]:
    """Apply the document verbosely; the record and everything printed on stderr."""
    commit_documents(repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(repo, "apply", "intents/demo.md", "-v", "--json", *args)
    assert ran.stdout, ran.stderr
    return json.loads(ran.stdout), ran.stderr


def _stored_log(repo: Path, record: dict[str, Any], index: int = 0) -> str:
    step = record["steps"][index]
    return git(repo, "show", f"orch-trace:runs/demo/{record['run_id']}/{step['log']}")


def test_a_bash_error_names_the_document_line_everywhere(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=hello}
echo "hello"
{# TODO #}
```
"""
    record, stderr = _run(git_repo, body)
    wanted = "intents/demo.md: line 11: {#: command not found"  # the line of `{# TODO #}`
    assert document(FRONT, body).splitlines()[10] == "{# TODO #}"
    assert f"  hello │ {wanted}" in stderr.splitlines()  # live, with -v
    assert _stored_log(git_repo, record) == f"hello\n{wanted}\n"
    logs = orch(git_repo, "logs", record["run_id"])
    assert logs.stdout.splitlines() == [
        "── hello ──",
        "hello",
        wanted,
        "── hello failed: exited with code 127 ──",
    ]
    report = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/report.md")
    assert wanted in report
    everything = stderr + logs.stdout + report + _stored_log(git_repo, record)
    assert "orch-run-" not in everything and "hello.bash" not in everything


def test_sh_python_and_perl_errors_name_the_document(git_repo: Path) -> None:
    body = """
# Demo

```sh {step=dash continue_on_error=true}
true
no-such-command-here
```

```python3 {step=trace continue_on_error=true}
import sys

def fail():
    raise RuntimeError("boom")

fail()
```

```python {step=syntax continue_on_error=true}
print("fine")
print("unclosed"
```

```perl {step=perl interpreter=perl continue_on_error=true}
print STDERR "usage: $0\\n";
die "broken";
```

```bash {step=usage}
echo "usage: $0 [options]"
```
"""
    record, stderr = _run(git_repo, body)
    assert record["state"] == "completed"
    lines = document(FRONT, body).splitlines()
    assert lines[10] == "no-such-command-here" and lines[19] == "fail()"
    assert _stored_log(git_repo, record, 0) == (
        "intents/demo.md: 11: no-such-command-here: not found\n"
    )
    trace = _stored_log(git_repo, record, 1)
    assert '  File "intents/demo.md", line 20, in <module>\n' in trace
    assert '  File "intents/demo.md", line 18, in fail\n' in trace
    assert trace.endswith("RuntimeError: boom\n")
    syntax = _stored_log(git_repo, record, 2)
    assert lines[24] == 'print("unclosed"'
    assert syntax.startswith('  File "intents/demo.md", line 25\n'), syntax
    assert _stored_log(git_repo, record, 3) == (
        "usage: intents/demo.md (step 'perl')\nbroken at intents/demo.md line 30.\n"
    )
    assert _stored_log(git_repo, record, 4) == "usage: intents/demo.md (step 'usage') [options]\n"
    assert "orch-run-" not in stderr


def test_when_rendering_changes_the_line_count_the_line_is_the_rendered_steps(
    git_repo: Path,
) -> None:
    body = """
# Demo

```bash {step=loop}
{% for name in ['a', 'b', 'c'] %}
echo {{ name }}
{% endfor %}
no-such-command-here
```
"""
    record, _ = _run(git_repo, body)
    rendered = record["steps"][0]["rendered"]
    assert rendered.splitlines()[7] == "no-such-command-here"  # line 8 of the rendered body
    assert _stored_log(git_repo, record) == (
        "a\nb\nc\n"
        "intents/demo.md: line 8 of the rendered step 'loop': no-such-command-here: "
        "command not found\n"
    )


def test_the_output_of_an_interrupted_step_names_the_document(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=slow}
echo "running $0"
touch started.txt
sleep 300
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record, _ = _interrupt(git_repo, "started.txt")
    assert code == 130
    assert _stored_log(git_repo, record) == (
        "running intents/demo.md (step 'slow')\n"
        "[orch: interrupted by Ctrl-C; the step's processes were stopped]\n"
    )


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_a_zsh_error_names_the_document_line(git_repo: Path) -> None:
    body = "# Demo\n\n```zsh {step=z}\ntrue\nno-such-command-here\n```\n"
    record, _ = _run(git_repo, body)
    assert _stored_log(git_repo, record) == (
        "intents/demo.md:11: command not found: no-such-command-here\n"
    )


PLACES = ScriptPlaces("/tmp/orch-run-x/s.bash", "intents/d.md", "s", 20, same_lines=True)
RENDERED = ScriptPlaces("/tmp/orch-run-x/s.bash", "intents/d.md", "s", 20, same_lines=False)


@pytest.mark.parametrize(
    ("printed", "same", "changed"),
    [
        # bash
        (
            "/tmp/orch-run-x/s.bash: line 3: x: command not found",
            "intents/d.md: line 22: x: command not found",
            "intents/d.md: line 3 of the rendered step 's': x: command not found",
        ),
        # sh (dash)
        (
            "/tmp/orch-run-x/s.bash: 3: x: not found",
            "intents/d.md: 22: x: not found",
            "intents/d.md, line 3 of the rendered step 's': x: not found",
        ),
        # zsh, gawk, node, ruby and most compilers
        (
            "/tmp/orch-run-x/s.bash:3: command not found: x",
            "intents/d.md:22: command not found: x",
            "intents/d.md, line 3 of the rendered step 's': command not found: x",
        ),
        # python
        (
            '  File "/tmp/orch-run-x/s.bash", line 3, in <module>',
            '  File "intents/d.md", line 22, in <module>',
            "  File \"intents/d.md\", line 3 of the rendered step 's', in <module>",
        ),
        # perl
        (
            "died at /tmp/orch-run-x/s.bash line 3.",
            "died at intents/d.md line 22.",
            "died at intents/d.md line 3 of the rendered step 's'.",
        ),
        # the file alone; another file of the run's folder is left alone
        (
            "usage: /tmp/orch-run-x/s.bash, output in /tmp/orch-run-x/s.output",
            "usage: intents/d.md (step 's'), output in /tmp/orch-run-x/s.output",
            "usage: intents/d.md (step 's'), output in /tmp/orch-run-x/s.output",
        ),
        # a line that does not name the script
        ("line 3: nothing to do with it", "line 3: nothing to do with it", None),
    ],
)
def test_each_interpreters_form_of_a_place(printed: str, same: str, changed: str | None) -> None:
    assert PLACES.line(printed) == same
    assert RENDERED.line(printed) == (changed or same)


def test_the_line_count_decides_whether_lines_are_the_documents() -> None:
    def same(written: str, rendered: str) -> bool:
        return places_for("/s", "d.md", "s", 1, written, rendered).same_lines

    assert same("a {{ x }}\nb\n", "a 1\nb\n")
    assert not same("{% if x %}\na\n{% endif %}\nb\n", "a\nb\n")
    assert not same("a\nb\n", "a\nb")  # the last line lost its newline
