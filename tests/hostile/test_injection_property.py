"""Property: for every template form in the corpus and any hostile value, either the render is
refused with exactly the diagnostic the form calls for, or the script receives exactly the
value (one shell argument, or one Python literal).

Three levels, from many cheap examples to a few real runs:

1. the render alone, compared with the expected outcome;
2. accepted renders executed by bash / python3, the bytes they write compared with the value;
3. ``orch apply`` end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import TemplateRefused
from tests.conftest import build_file_tree, git
from tests.core.helpers import orch
from tests.hostile import injection_corpus as corpus

HOSTILE = st.sampled_from(
    [
        "a; touch /tmp/orch-injected #",
        "$(touch /tmp/orch-injected)",
        "`touch /tmp/orch-injected`",
        "'; touch /tmp/orch-injected; '",
        '"; touch /tmp/orch-injected; "',
        "\\'",
        "x\nEOF\ntouch /tmp/orch-injected\n",
        "# comment",
        "a b",
        "\n",
        "'",
        '"',
        "\\",
        "$HOME",
        "${HOME}",
        "*",
        "~",
        "!",
        "é日本🙂",
        "\r\n",
        "\t",
        "{{ 1 }}",
        "%s%d",
        "{x}",
        "__import__('os').system('touch /tmp/orch-injected')",
        '"""',
        "\\x00",
        "-5",
        "0",
        "12.5",
        "01",
    ]
)
SAFE = st.text(alphabet="abcXYZ019._-:/@+=,", max_size=12)
ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=24,
)
VALUES = st.one_of(HOSTILE, SAFE, ANY_TEXT, st.lists(HOSTILE, max_size=3).map("".join))
FORMS = st.sampled_from(corpus.FORMS)


def _outcome(form: corpus.Form, value: str) -> tuple[str, str]:
    try:
        return "accepted", corpus.render_use(form, value)
    except TemplateRefused as exc:
        return "refused", str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FORMS, VALUES)
def test_each_render_is_refused_or_writes_the_value_as_the_form_says(
    form: corpus.Form, value: str
) -> None:
    expected = form.expect(value)
    kind, got = _outcome(form, value)
    if isinstance(expected, corpus.Refused):
        assert (kind, got) == ("refused", corpus.diagnostic(expected))
    else:
        assert kind == "accepted", got


def _run_script(form: corpus.Form, body: str) -> str:
    with tempfile.TemporaryDirectory(prefix="orch-injection-") as folder:
        where = Path(folder)
        script = where / "script"
        script.write_text(body, encoding="utf-8")
        command = (
            [sys.executable, str(script)]
            if form.python
            else ["bash", "-eo", "pipefail", str(script)]
        )
        done = subprocess.run(command, cwd=where, capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        assert not Path("/tmp/orch-injected").exists()
        if form.python:
            with (where / "out.txt").open(encoding="utf-8", newline="") as written:
                return written.read()
        return (where / "out.bin").read_bytes().decode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FORMS, VALUES)
def test_an_accepted_script_receives_exactly_the_value(form: corpus.Form, value: str) -> None:
    expected = form.expect(value)
    kind, got = _outcome(form, value)
    if isinstance(expected, corpus.Refused):
        assert kind == "refused"
        return
    assert kind == "accepted", got
    assert _run_script(form, got) == expected.text


# Forms ``orch validate`` lets through, and that do not need a multi-line step output.
END_TO_END = [
    form
    for form in corpus.FORMS
    if form.name not in ("sh filter in python", "step output", "step output quoted")
]


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(END_TO_END), VALUES)
def test_orch_apply_refuses_before_the_run_or_passes_the_value(
    tmp_path: Path, form: corpus.Form, value: str
) -> None:
    repo = Path(tempfile.mkdtemp(dir=tmp_path))
    git(repo, "init", "-q")
    build_file_tree(repo, {corpus.PATH: corpus.document_text(form)})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "document")
    (repo / "inputs.json").write_text(json.dumps({"x": value}))
    ran = orch(repo, "apply", corpus.PATH, "--inputs", "inputs.json")
    expected = form.expect(value)
    if isinstance(expected, corpus.Refused):
        assert ran.code == 2, ran.stderr
        assert ran.stderr.splitlines() == [corpus.diagnostic(expected)]
        assert git(repo, "branch", "--list", "orch-trace") == ""
        return
    assert ran.code == 0, ran.stderr
    if form.python:
        with (repo / "out.txt").open(encoding="utf-8", newline="") as written:
            assert written.read() == expected.text
    else:
        assert (repo / "out.bin").read_bytes() == expected.text.encode("utf-8")
    assert not Path("/tmp/orch-injected").exists()
