"""``orch validate`` with warnings: printed, in the JSON output, and never an exit code of
their own; documents that used to get raw errors or none now get their diagnostic."""

from __future__ import annotations

from pathlib import Path

from tests.core.helpers import commit_documents, orch

WARNED = """---
id: warned
title: Warned
---

# Warned

```bash {step=build}
echo "built"
```

```bash {step=ship}
echo {{ steps.build.outputs.version | sh }}
```
"""
WARNING = (
    "intents/warned.md:13:29: warning: step 'ship' uses steps.build.outputs.version, known "
    "only when 'build' runs: make sure it writes version=... to $ORCH_OUTPUT"
)
MISTAKEN = """---
id: mistaken
title: Mistaken
---

# Mistaken

```bash {step=build}
echo {{ steps.biuld.state }}
```
"""


def test_warnings_alone_leave_the_documents_valid(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/warned.md": WARNED})
    ran = orch(git_repo, "validate")
    assert ran.code == 0
    assert ran.stdout.splitlines() == [WARNING]
    assert ran.stderr.splitlines() == ["all documents are valid; 1 warning(s)"]
    as_json = orch(git_repo, "validate", "--json")
    assert as_json.code == 0
    assert as_json.json() == [
        {
            "path": "intents/warned.md",
            "line": 13,
            "col": 29,
            "severity": "warning",
            "code": "maybe-undefined",
            "message": WARNING.split(": warning: ", 1)[1],
        }
    ]


def test_errors_and_warnings_are_counted_apart(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/warned.md": WARNED, "intents/mistaken.md": MISTAKEN})
    ran = orch(git_repo, "validate")
    assert ran.code == 1
    assert ran.stdout.splitlines() == [
        "intents/mistaken.md:9:15: step 'build' uses steps.biuld, but there is no step 'biuld': "
        "did you mean 'build'? (that is this step itself: a step sees only the steps before it)",
        WARNING,
    ]
    assert ran.stderr.splitlines() == ["1 problem(s) found, 1 warning(s)"]


def test_a_run_of_a_mistaken_document_stops_before_its_first_step(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/mistaken.md": MISTAKEN})
    ran = orch(git_repo, "apply", "intents/mistaken.md", "--allow-draft")
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        "intents/mistaken.md:9:15: step 'build' uses steps.biuld, but there is no step 'biuld': "
        "did you mean 'build'? (that is this step itself: a step sees only the steps before it)"
    ]
    assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr


def test_a_yaml_directive_is_a_diagnostic_not_an_internal_error(git_repo: Path) -> None:
    text = "---\n%YAML 1.3\nid: d\ntitle: D\n---\n\n```sh {step=a}\ntrue\n```\n"
    commit_documents(git_repo, {"intents/directive.md": text})
    ran = orch(git_repo, "validate", "--json")
    assert ran.code == 1
    assert ran.json() == [
        {
            "path": "intents/directive.md",
            "line": 2,
            "col": 1,
            "severity": "error",
            "code": "yaml",
            "message": "invalid YAML: '%YAML 1.3' is a YAML directive, which front matter cannot "
            "have (the '---' it needs would end the front matter): remove the line; orch reads "
            "YAML 1.2",
        }
    ]
