"""``orch rerun`` runs a recorded run again (the same commit, the same inputs, secret ones
given again) and ``orch apply --resume`` continues a failed one from the step where it
stopped, with the outputs of the steps before restored from the trace."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, document
from tests.core.helpers import orch as run_orch
from tests.steering.helpers import shown, step_of

FRONT = """
id: deploy
title: Deploy
status: approved
inputs:
  target:
    type: string
    enum: [staging, production]
  count:
    type: integer
    default: 1
  password:
    type: string
    secret: true
"""
BODY = """
# Deploy

```bash {step=build}
echo "building version 1 for $ORCH_INPUT_TARGET x$ORCH_INPUT_COUNT"
echo "built" >> "$MARKS/builds.txt"
echo "version=1.0" >> "$ORCH_OUTPUT"
echo "secret_length=${#ORCH_INPUT_PASSWORD}" >> "$ORCH_OUTPUT"
```

```bash {step=deploy}
test -e "$MARKS/deploy-allowed" || { echo "deployment is not allowed yet"; exit 4; }
echo "deployed {{ steps.build.outputs.version }} to {{ inputs.target }}"
```

```bash {step=verify}
echo "verified {{ steps.build.outputs.version }}"
```
"""


def orch(repo: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    """``orch`` with ``$MARKS`` (where steps leave marks) beside the repository: a re-run
    runs in a temporary worktree elsewhere."""
    return run_orch(repo, *args, env={"MARKS": str(repo.parent), **(env or {})})


def _apply(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    ran = orch(repo, "apply", *args, "--json", env=env)
    assert ran.stdout, ran.stderr
    return ran.code, ran.json()


def _builds(repo: Path) -> int:
    path = repo.parent / "builds.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_rerun_runs_the_same_commit_with_the_same_inputs(git_repo: Path) -> None:
    (git_repo.parent / "deploy-allowed").write_text("")
    commit_documents(git_repo, {"intents/deploy.md": document(FRONT, BODY)})
    first_commit = git(git_repo, "rev-parse", "HEAD").strip()
    code, first = _apply(
        git_repo,
        "intents/deploy.md",
        "-i",
        "target=production",
        "-i",
        "count=3",
        "-i",
        "password=pa55-Word-1",
    )
    assert code == 0
    # The document changes after the run: a re-run still runs the text that ran.
    commit_documents(
        git_repo, {"intents/deploy.md": document(FRONT, BODY.replace("version 1", "version 2"))}
    )
    run_id = first["run_id"]

    missing = orch(git_repo, "rerun", run_id)
    assert missing.code == 2
    assert missing.stderr == (
        f"orch: run {run_id} had secret input(s) that are never stored; give them again: "
        "'password' (-i password=VALUE or ORCH_INPUT_PASSWORD)\n"
    )
    changed = orch(git_repo, "rerun", run_id, "-i", "count=5")
    assert changed.code == 2
    assert changed.stderr == (
        f"orch: input(s) count: a run again takes the inputs run {run_id} recorded; give "
        "only the secret ones it needs again (password)\n"
    )

    again = orch(git_repo, "rerun", run_id, "--json", env={"ORCH_INPUT_PASSWORD": "pa55-Word-1"})
    assert again.code == 0, again.stderr
    record = again.json()
    assert record["rerun_of"] == run_id
    assert (
        record["inputs"]
        == first["inputs"]
        == {
            "target": "production",
            "count": 3,
            "password": "***",
        }
    )
    assert record["inputs_digest"] == first["inputs_digest"]
    assert record["document"]["commit"] == first_commit
    assert record["document"]["blob"] == first["document"]["blob"]
    assert record["workspace"]["kind"] == "worktree"
    assert record["workspace"]["commit"] == first_commit
    assert step_of(record, "build")["outputs"] == {"version": "1.0", "secret_length": "11"}
    log = git(git_repo, "show", f"orch-trace:runs/deploy/{record['run_id']}/logs/01-build.log")
    assert log == "building version 1 for production x3\n"
    assert shown(git_repo, record["run_id"])["rerun_of"] == run_id
    new_id = record["run_id"]
    assert again.stderr.splitlines()[-3:] == [
        f"completed run {new_id}",
        f"run {new_id} runs {run_id} again",
        f"run folder: {git_repo}/.orch/runs/deploy/{new_id}",
    ]

    current = orch(git_repo, "rerun", run_id, "--current", "-i", "password=pa55-Word-1", "--json")
    assert current.code == 0, current.stderr
    now = current.json()
    assert now["inputs"] == first["inputs"]
    assert now["workspace"]["kind"] == "working-copy"
    log = git(git_repo, "show", f"orch-trace:runs/deploy/{now['run_id']}/logs/01-build.log")
    assert log == "building version 2 for production x3\n"


def test_resume_takes_over_the_steps_before_the_one_that_failed(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/deploy.md": document(FRONT, BODY)})
    code, failed = _apply(
        git_repo, "intents/deploy.md", "-i", "target=staging", "-i", "password=pw-Zeta-9"
    )
    assert code == 1
    assert failed["error"]["step"] == "deploy"
    assert _builds(git_repo) == 1
    run_id = failed["run_id"]
    (git_repo.parent / "deploy-allowed").write_text("")

    resumed = orch(git_repo, "apply", "--resume", run_id, "-i", "password=pw-Zeta-9", "--json")
    assert resumed.code == 0, resumed.stderr
    record = resumed.json()
    assert _builds(git_repo) == 1  # build did not run again
    assert record["resumes"] == {"run": run_id, "steps": ["build"], "forced": False}
    assert f"resumed run {run_id}: took over step(s) build" in resumed.stderr.splitlines()
    assert record["rerun_of"] is None
    build = step_of(record, "build")
    old_build = step_of(failed, "build")
    assert build["taken_over_from"] == run_id
    assert build["outputs"] == old_build["outputs"] == {"version": "1.0", "secret_length": "9"}
    assert build["started_at"] == old_build["started_at"]
    assert step_of(record, "deploy")["state"] == "completed"
    folder = f"orch-trace:runs/deploy/{record['run_id']}/logs"
    assert git(git_repo, "show", f"{folder}/02-deploy.log") == "deployed 1.0 to staging\n"
    assert git(git_repo, "show", f"{folder}/03-verify.log") == "verified 1.0\n"
    # The taken-over step's log is kept with the run that took it over.
    assert git(git_repo, "show", f"{folder}/01-build.log") == "building version 1 for staging x1\n"

    done = orch(git_repo, "apply", "--resume", record["run_id"])
    assert done.code == 2
    assert done.stderr == (
        f"orch: run {record['run_id']} ended well: only a failed or cancelled run resumes\n"
    )


def test_resume_refuses_when_a_step_before_the_failed_one_changed(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/deploy.md": document(FRONT, BODY)})
    code, failed = _apply(
        git_repo, "intents/deploy.md", "-i", "target=staging", "-i", "password=pw-Zeta-9"
    )
    assert code == 1
    run_id = failed["run_id"]
    (git_repo.parent / "deploy-allowed").write_text("")
    path = git_repo / "intents" / "deploy.md"

    # A change at or after the failed step is what resuming is for.
    path.write_text(document(FRONT, BODY.replace('echo "verified', 'echo "checked')))
    fixed = orch(
        git_repo, "apply", "intents/deploy.md", "--resume", run_id, "-i", "password=pw-Zeta-9"
    )
    assert fixed.code == 0, fixed.stderr
    assert _builds(git_repo) == 1

    path.write_text(document(FRONT, BODY.replace("version=1.0", "version=1.1")))
    refused = orch(
        git_repo, "apply", "intents/deploy.md", "--resume", run_id, "-i", "password=pw-Zeta-9"
    )
    assert refused.code == 2
    assert refused.stderr == (
        f"orch: run {run_id} cannot be resumed at step 'deploy': step 'build' changed since "
        "it ran; its outputs may not fit the document any more: resume anyway with --force, "
        f"or run it again whole (orch rerun {run_id} --current)\n"
    )
    forced = orch(
        git_repo,
        "apply",
        "intents/deploy.md",
        "--resume",
        run_id,
        "--force",
        "-i",
        "password=pw-Zeta-9",
        "--json",
    )
    assert forced.code == 0, forced.stderr
    record = forced.json()
    assert record["resumes"] == {"run": run_id, "steps": ["build"], "forced": True}
    assert _builds(git_repo) == 1
    # The outputs are those the run recorded, not what the changed step would make.
    assert step_of(record, "build")["outputs"]["version"] == "1.0"

    other = git_repo / "intents" / "other.md"
    other.write_text(document(FRONT.replace("id: deploy", "id: other"), BODY))
    wrong = orch(git_repo, "apply", "intents/other.md", "--resume", run_id)
    assert wrong.code == 2
    assert wrong.stderr == (
        f"orch: intents/other.md is workflow 'other', but run {run_id} is of 'deploy'\n"
    )
