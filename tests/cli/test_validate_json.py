"""``orch validate --json``: every diagnostic as an object for editors and CI annotations,
and the registry of diagnostic codes behind it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.errors import CODES, Diagnostic, InputError
from tests.core.helpers import commit_documents, orch

ROOT = Path(__file__).resolve().parents[2]

TYPO = """---
id: typo
title: Typo
statsu: approved
---

# Typo

```bash {step=build tiemout=1s}
echo "{{ inputs.x "
```
"""
SCHEMA = (
    "---\nid: schema\ntitle: Schema\nstatus: shipped\n---\n\n# S\n\n```sh {step=a}\ntrue\n```\n"
)
YAML = "---\nid: [broken\n---\n\n# B\n\n```sh {step=a}\ntrue\n```\n"
GOOD = "---\nid: good\ntitle: Good\nstatus: approved\n---\n\n# Good\n\n```sh {step=a}\ntrue\n```\n"
TWIN = GOOD.replace("title: Good", "title: Twin")


def test_every_diagnostic_is_an_object_with_its_place_severity_and_code(git_repo: Path) -> None:
    commit_documents(
        git_repo,
        {
            "intents/typo.md": TYPO,
            "intents/schema.md": SCHEMA,
            "intents/yaml.md": YAML,
            "intents/good.md": GOOD,
            "intents/twin.md": TWIN,
        },
    )
    ran = orch(git_repo, "validate", "--json")
    assert ran.code == 1
    assert ran.stderr == ""
    found = json.loads(ran.stdout)
    assert all(list(d) == ["path", "line", "col", "severity", "code", "message"] for d in found)
    places = [(d["path"], d["line"], d["col"], d["severity"], d["code"]) for d in found]
    assert places == [
        ("intents/schema.md", 4, 9, "error", "schema"),
        ("intents/twin.md", 2, 1, "error", "duplicate-id"),
        ("intents/typo.md", 4, 1, "error", "unknown-key"),
        ("intents/typo.md", 9, 21, "error", "step-attribute"),
        ("intents/typo.md", 10, 1, "error", "template"),
        ("intents/yaml.md", 2, 5, "error", "yaml"),
    ]
    messages = [d["message"] for d in found]
    assert messages[0] == (
        "status: 'shipped' is not one of "
        "['draft', 'in_review', 'approved', 'rejected', 'superseded']"
    )
    assert messages[1] == "id 'good' is already used by intents/good.md: ids must be unique"
    assert messages[2] == "unknown key 'statsu' in the front matter: did you mean 'status'?"
    assert messages[3] == "unknown step attribute 'tiemout': did you mean timeout=?"
    assert messages[4] == "step 'build': template syntax error: unexpected char '\"' at 18"
    assert messages[5] == (
        "invalid YAML: the '[' of this list is never closed: add ']' after its last item"
    )
    # The same diagnostics as the text output, line for line.
    text = orch(git_repo, "validate").stdout.splitlines()
    assert text == [f"{d['path']}:{d['line']}:{d['col']}: {d['message']}" for d in found]


def test_valid_documents_give_an_empty_array_and_exit_0(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/good.md": GOOD})
    ran = orch(git_repo, "validate", "--json")
    assert (ran.code, ran.stdout, ran.stderr) == (0, "[]\n", "")


def test_an_unreadable_file_has_its_own_code(git_repo: Path) -> None:
    (git_repo / "intents").mkdir()
    (git_repo / "intents/bin.md").write_bytes(b"\xff\xfe")
    ran = orch(git_repo, "validate", "--json", "intents/bin.md")
    assert ran.code == 1
    assert ran.json() == [
        {
            "path": "intents/bin.md",
            "line": 1,
            "col": 1,
            "severity": "error",
            "code": "unreadable",
            "message": "not UTF-8 text (byte 0): save it as UTF-8",
        }
    ]


def test_a_warning_prints_as_a_warning_and_a_code_must_be_registered() -> None:
    warning = Diagnostic("a.md", 3, 5, "may not exist", code="template", severity="warning")
    assert str(warning) == "a.md:3:5: warning: may not exist"
    assert warning.to_json() == {
        "path": "a.md",
        "line": 3,
        "col": 5,
        "severity": "warning",
        "code": "template",
        "message": "may not exist",
    }
    assert str(Diagnostic("a.md", 1, 1, "bad")) == "a.md:1:1: bad"
    assert Diagnostic("a.md", 1, 1, "bad").code == "invalid"
    with pytest.raises(ValueError, match=r"diagnostic code 'no-such-code' is not in errors\.CODES"):
        Diagnostic("a.md", 1, 1, "bad", code="no-such-code")


def test_input_errors_carry_the_input_code() -> None:
    error = InputError([Diagnostic("-i", 1, 1, "unknown input 'x'"), Diagnostic("d.md", 4, 1, "y")])
    assert [d.code for d in error.diagnostics] == ["input", "input"]
    kept = InputError([Diagnostic("f.yaml", 1, 1, "invalid YAML: x", code="yaml")])
    assert [d.code for d in kept.diagnostics] == ["yaml"]


def test_every_code_in_the_source_is_registered_and_documented() -> None:
    used: set[str] = set()
    for path in (ROOT / "orchestrator").rglob("*.py"):
        used.update(re.findall(r'\bcode="([a-z-]+)"', path.read_text()))
    assert used - set(CODES) == set()
    documented = set(
        re.findall(r"^\| `([a-z-]+)` \|", (ROOT / "docs/diagnostics.md").read_text(), re.M)
    )
    assert documented == set(CODES)
