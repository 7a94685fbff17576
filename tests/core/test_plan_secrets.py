"""``orch plan`` previews a document without its production secrets: the plan is made with
placeholders and ends by listing what a run would need; ``orch apply`` still refuses."""

from __future__ import annotations

import json
from pathlib import Path

from tests.core.helpers import commit_documents, document, orch

FRONT = """
id: demo
title: Demo
status: approved
secrets: [DEPLOY_TOKEN, REGISTRY_KEY]
inputs:
  password: {type: string, secret: true, required: true}
  pin: {type: string, secret: true}
  target: {type: string, enum: [staging, production], default: staging}
"""

BODY = """
# Demo

```bash {step=deploy}
echo "deploy to {{ inputs.target }}" "$DEPLOY_TOKEN" "$ORCH_INPUT_PASSWORD"
```

```bash {step=check if="inputs.target == 'production'"}
echo "checking"
```
"""


def _repo(git_repo: Path) -> Path:
    return commit_documents(git_repo, {"intents/demo.md": document(FRONT, BODY)})


def test_plan_without_the_secrets_lists_what_a_run_would_need(git_repo: Path) -> None:
    repo = _repo(git_repo)
    ran = orch(repo, "plan", "intents/demo.md", env={"COLUMNS": "100"})
    assert ran.code == 0, ran.stderr
    assert ran.stderr == ""
    lines = ran.stdout.splitlines()
    assert lines[0] == "Demo (demo)"
    assert 'echo "deploy to staging" "$DEPLOY_TOKEN" "$ORCH_INPUT_PASSWORD"' in lines
    assert "check · Demo · script · skipped (if is false)" in ran.stdout
    assert lines[-2:] == [
        "would need DEPLOY_TOKEN, REGISTRY_KEY to run: export them in the environment that runs "
        "orch",
        "would need the secret input 'password' to run: give it with -i password=VALUE or "
        "--inputs FILE",
    ]


def test_plan_lists_only_what_is_missing(git_repo: Path) -> None:
    repo = _repo(git_repo)
    ran = orch(
        repo,
        "plan",
        "intents/demo.md",
        "-i",
        "password=hunter2hunter2",
        env={"DEPLOY_TOKEN": "t0ken-value", "COLUMNS": "100"},
    )
    assert ran.code == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == (
        "would need REGISTRY_KEY to run: export it in the environment that runs orch"
    )
    assert "hunter2hunter2" not in ran.stdout and "t0ken-value" not in ran.stdout
    complete = orch(
        repo,
        "plan",
        "intents/demo.md",
        "-i",
        "password=hunter2hunter2",
        env={"DEPLOY_TOKEN": "t0ken-value", "REGISTRY_KEY": "k3y-value"},
    )
    assert complete.code == 0, complete.stderr
    assert "would need" not in complete.stdout + complete.stderr


def test_plan_json_keeps_stdout_json_and_says_it_on_stderr(git_repo: Path) -> None:
    repo = _repo(git_repo)
    ran = orch(repo, "plan", "intents/demo.md", "--json")
    assert ran.code == 0, ran.stderr
    planned = json.loads(ran.stdout)
    assert [step["step"] for step in planned] == ["deploy", "check"]
    assert ran.stderr.splitlines() == [
        "would need DEPLOY_TOKEN, REGISTRY_KEY to run: export them in the environment that runs "
        "orch",
        "would need the secret input 'password' to run: give it with -i password=VALUE or "
        "--inputs FILE",
    ]


def test_apply_still_refuses_without_the_secrets(git_repo: Path) -> None:
    repo = _repo(git_repo)
    ran = orch(repo, "apply", "intents/demo.md", "-i", "password=hunter2hunter2")
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        "intents/demo.md:5:1: secret DEPLOY_TOKEN is not set: export it in the environment "
        "that runs orch",
        "intents/demo.md:5:1: secret REGISTRY_KEY is not set: export it in the environment "
        "that runs orch",
    ]
    missing_input = orch(
        repo,
        "apply",
        "intents/demo.md",
        env={"DEPLOY_TOKEN": "t0ken-value", "REGISTRY_KEY": "k3y-value"},
    )
    assert missing_input.code == 2
    assert missing_input.stderr.splitlines() == [
        "intents/demo.md:7:1: input 'password' is required: give it with -i password=VALUE"
    ]
    assert not (repo / ".orch" / "runs").exists()
